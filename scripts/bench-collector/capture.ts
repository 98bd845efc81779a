// The sender side: compiles the C sender, captures each exporter's datagrams once, replays them at a rate.
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDecoderState, decodePacket } from '../../packages/flow-decoder/src/index.ts';
import { runSfprobe, runSoftflowd } from '../../packages/testkit/src/index.ts';

import { dir, FLOWS, type Format, log, repo, SECONDS, type Sent, sleep } from './common.ts';

export function compileSender(): string {
  const out = join(dir, 'bench-sender');
  execFileSync('gcc', ['-O2', '-Wall', '-o', out, join(repo, 'scripts/bench-sender.c')], {
    stdio: 'inherit',
  });
  return out;
}

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * softflowd's (or for sFlow pmacctd sfprobe's, 1:1) export of the pcap, captured on a loopback socket,
 * with records and octets per datagram.
 */
export async function captureExport(pcap: string, format: Format): Promise<string> {
  const sock = createSocket({ type: 'udp4', recvBufferSize: 64 << 20 });
  const datagrams: Buffer[] = [];
  sock.on('message', (m) => datagrams.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const target = `127.0.0.1:${sock.address().port}`;
  if (format === 'sflow') await runSfprobe({ pcap, target, agent: '127.0.0.1' });
  else await runSoftflowd({ pcap, target, version: format === 'v9' ? 9 : 10 });
  await sleep(500);
  sock.close();
  const state = createDecoderState();
  const parts: Buffer[] = [];
  let records = 0;
  for (const d of datagrams) {
    const r = decodePacket(d, state, { exporter: '127.0.0.1', receivedMs: Date.now() });
    const octets = r.records.reduce((s, x) => s + x.bytes, 0);
    const h = Buffer.alloc(8);
    h.writeUInt16BE(d.length, 0);
    h.writeUInt16BE(r.records.length, 2);
    h.writeUInt32BE(octets >>> 0, 4);
    parts.push(h, d);
    records += r.records.length;
  }
  const file = join(dir, `${format}.dgrams`);
  writeFileSync(file, Buffer.concat(parts));
  const exporter = format === 'sflow' ? 'pmacctd sfprobe' : 'softflowd';
  log(
    `# ${format}: ${exporter} exported ${records} records in ${datagrams.length} datagrams (${(records / datagrams.length).toFixed(1)} records/datagram)`,
  );
  // pmacctd loses a few packets at the end of a file.
  if (records !== FLOWS && !(format === 'sflow' && records >= FLOWS - 10))
    log(`# warning: expected ${FLOWS} records in the capture, got ${records}`);
  return file;
}

export function send(sender: string, file: string, port: number, rate: number): Sent {
  const out = execFileSync(sender, [file, String(port), String(rate), String(SECONDS)], {
    encoding: 'utf8',
    timeout: (SECONDS + 30) * 1000,
  });
  const kv = Object.fromEntries(
    out
      .trim()
      .split(' ')
      .map((p) => p.split('=') as [string, string]),
  );
  return {
    datagrams: Number(kv.datagrams),
    records: Number(kv.records),
    octets: Number(kv.octets),
    seconds: Number(kv.seconds),
  };
}
