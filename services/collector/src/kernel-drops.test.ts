import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { parseProcNetUdp, readUdpCounters } from './kernel-drops.ts';

const SAMPLE = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  130: 0100007F:0807 00000000:0000 07 00000000:00000200 00 00000000:00000000 00000000     0        0 123 2 0000000000000000 17
  131: 00000000:1283 00000000:0000 07 00000000:00000000 00 00000000:00000000 00000000     0        0 124 2 0000000000000000 0
`;

test('parses drops and receive queue per local port', () => {
  const m = parseProcNetUdp(SAMPLE, new Set([2055, 4739, 9999]));
  assert.deepEqual(m.get(2055), { port: 2055, drops: 17, rxQueue: 512 });
  assert.deepEqual(m.get(4739), { port: 4739, drops: 0, rxQueue: 0 });
  assert.equal(m.has(9999), false);
});

test('finds a socket bound here in the real /proc/net/udp', async () => {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  const m = readUdpCounters(new Set([port]));
  s.close();
  assert.equal(m.get(port)?.drops, 0);
});
