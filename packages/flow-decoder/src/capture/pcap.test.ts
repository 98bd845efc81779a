import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodePcap, udpFrame } from '@wardwatch/hospital-sim';
import { CaptureFormatError, isCapture, readCaptureDatagrams } from './pcap.ts';

function block(type: number, body: number[]): number[] {
  const pad = (4 - (body.length % 4)) % 4;
  const len = 12 + body.length + pad;
  const le32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
  return [...le32(type), ...le32(len), ...body, ...new Array(pad).fill(0), ...le32(len)];
}

const le32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];

test('pcapng: section, interface with nanosecond resolution, enhanced packet blocks', () => {
  const payload = Uint8Array.of(0, 10, 0, 16, 1, 2, 3, 4);
  const frame = [...udpFrame('192.0.2.1', '192.0.2.2', 4739, 4739, payload)];
  const shb = block(0x0a0d0d0a, [
    ...le32(0x1a2b3c4d),
    ...le16(1),
    ...le16(0),
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
  ]);
  // if_tsresol = 9 (nanoseconds)
  const idb = block(1, [
    ...le16(1),
    ...le16(0),
    ...le32(65535),
    ...le16(9),
    ...le16(1),
    9,
    0,
    0,
    0,
    ...le16(0),
    ...le16(0),
  ]);
  const ns = 1_700_000_000_123_000_000n;
  const epb = block(6, [
    ...le32(0),
    ...le32(Number(ns >> 32n)),
    ...le32(Number(ns & 0xffffffffn)),
    ...le32(frame.length),
    ...le32(frame.length),
    ...frame,
  ]);
  const file = Uint8Array.from([...shb, ...idb, ...epb]);
  assert.ok(isCapture(file));
  const [d] = readCaptureDatagrams(file);
  assert.ok(d);
  assert.equal(d.src, '192.0.2.1');
  assert.equal(d.dstPort, 4739);
  assert.equal(d.tsMs, 1_700_000_000_123);
  assert.deepEqual([...d.payload], [...payload]);
});

test('classic pcap: IPv4 fragments are reassembled into one datagram', () => {
  const payload = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  const whole = udpFrame('192.0.2.1', '192.0.2.2', 2055, 2055, payload);
  // Split the IP payload (UDP header + data) at 1480 bytes into two fragments.
  const ip = whole.subarray(14);
  const udp = ip.subarray(20);
  const frag = (from: number, to: number, more: boolean) => {
    const f = new Uint8Array(14 + 20 + (to - from));
    f.set(whole.subarray(0, 34));
    f.set(udp.subarray(from, to), 34);
    const total = 20 + (to - from);
    f[16] = total >> 8;
    f[17] = total & 0xff;
    f[18] = 0x12;
    f[19] = 0x34;
    const off = (from / 8) | (more ? 0x2000 : 0);
    f[20] = off >> 8;
    f[21] = off & 0xff;
    return f;
  };
  const file = encodePcap([
    { tsMs: 1000, data: frag(1480, udp.length, false) },
    { tsMs: 1001, data: frag(0, 1480, true) },
  ]);
  const out = readCaptureDatagrams(file);
  assert.equal(out.length, 1);
  assert.deepEqual([...out[0]!.payload], [...payload]);
  assert.throws(() => readCaptureDatagrams(Uint8Array.of(1, 2, 3, 4)), CaptureFormatError);
});
