// Cross-check with an independent collector: nfdump's nfcapd receives the encoder's NetFlow v9 and IPFIX
// over loopback UDP and must store every record with its bytes, with no sequence error or bad packet.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { ensureTool } from '@wardwatch/testkit';
import { createExportEncoder } from './index.ts';

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('nfcapd stores every record the encoder sends, as v9 and as IPFIX', async () => {
  ensureTool('nfcapd', 'nfdump');
  const dir = mkdtempSync(join(tmpdir(), 'ww-nfcapd-'));
  const port = await freeUdpPort();
  const nfcapd = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '300'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  nfcapd.stdout.on('data', (d) => {
    log += d;
  });
  nfcapd.stderr.on('data', (d) => {
    log += d;
  });
  const exited = new Promise<void>((r) => nfcapd.once('exit', () => r()));
  try {
    await new Promise((r) => setTimeout(r, 700)); // nfcapd binds after start-up
    const now = Date.now();
    const records: FlowRecord[] = [];
    for (let i = 0; i < 250; i++) {
      const r = createFlowRecord();
      r.srcAddr = `10.30.${i >> 6}.${(i % 64) + 1}`;
      r.dstAddr = '192.0.2.9';
      r.srcPort = 1000 + i;
      r.dstPort = 443;
      r.protocol = 6;
      r.bytes = 1000 + i;
      r.packets = 3;
      r.startMs = now - 5000;
      r.endMs = now - 1000;
      r.srcVlan = 20;
      r.srcMac = '00:11:22:33:44:55';
      records.push(r);
    }
    const sock = createSocket('udp4');
    for (const version of [9, 10] as const) {
      const enc = createExportEncoder({ version });
      for (const p of enc.encode(records, now)) {
        await new Promise((r) => sock.send(p, port, '127.0.0.1', r));
      }
    }
    sock.close();
    await new Promise((r) => setTimeout(r, 500));
    nfcapd.kill('SIGTERM'); // nfcapd writes its file on exit
    await exited;
    assert.match(log, /Sequence Errors: 0, Bad Packets: 0/, log);
    const out = execFileSync('nfdump', ['-R', dir, '-q', '-N', '-o', 'fmt:%sa,%sp,%byt,%svln,%ismc'], {
      encoding: 'utf8',
    });
    const rows = out
      .trim()
      .split('\n')
      .map((l) => l.split(',').map((s) => s.trim()));
    assert.equal(rows.length, 2 * records.length, 'every record, twice (v9 and IPFIX)');
    const bytes = rows.reduce((s, r) => s + Number(r[2]), 0);
    assert.equal(bytes, 2 * records.reduce((s, r) => s + r.bytes, 0));
    assert.deepEqual(rows[0], ['10.30.0.1', '1000', '1000', '20', '00:11:22:33:44:55']);
  } finally {
    if (nfcapd.exitCode === null) nfcapd.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
