import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ipLength, type SyntheticPacket, writePcap } from './pcap.ts';

const hasTshark = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v tshark'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('a pcap of IPv4 and IPv6 packets reads back in tshark as written', {
  skip: !hasTshark && 'tshark not installed',
}, () => {
  const packets: SyntheticPacket[] = [
    {
      tsMs: 1_700_000_000_250,
      src: '10.1.2.3',
      dst: '192.168.0.9',
      protocol: 6,
      srcPort: 40000,
      dstPort: 443,
      tcpFlags: 0x12,
      payload: 100,
      tos: 8,
    },
    {
      tsMs: 1_700_000_000_500,
      src: '2001:db8::1',
      dst: '2001:db8::2',
      protocol: 17,
      srcPort: 5353,
      dstPort: 53,
      payload: 40,
    },
    { tsMs: 1_700_000_001_000, src: '10.1.2.3', dst: '10.1.2.4', protocol: 1 },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'ww-sim-pcap-'));
  try {
    const file = join(dir, 'p.pcap');
    writePcap(file, packets);
    const out = execFileSync(
      'tshark',
      [
        '-n',
        '-r',
        file,
        '-T',
        'fields',
        '-E',
        'separator=|',
        '-e',
        'frame.time_epoch',
        '-e',
        'ip.src',
        '-e',
        'ipv6.src',
        '-e',
        'ip.len',
        '-e',
        'ipv6.plen',
        '-e',
        'tcp.flags',
        '-e',
        'udp.dstport',
        '-e',
        'ip.dsfield',
        '-e',
        'eth.src',
      ],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .map((l) => l.split('|'));
    assert.equal(out.length, 3);
    assert.equal(Number(out[0]![0]), 1_700_000_000.25);
    assert.equal(out[0]![1], '10.1.2.3');
    assert.equal(Number(out[0]![3]), ipLength(packets[0]!));
    assert.equal(out[0]![5], '0x0012');
    assert.equal(out[0]![7], '0x08');
    assert.equal(out[0]![8], '02:00:0a:01:02:03', 'MAC derived from the address');
    assert.equal(out[1]![2], '2001:db8::1');
    assert.equal(Number(out[1]![4]) + 40, ipLength(packets[1]!));
    assert.equal(out[1]![6], '53');
    assert.equal(Number(out[2]![3]), 28);
    assert.equal(readFileSync(file).readUInt32LE(0), 0xa1b2c3d4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hospital-sim (a runtime dependency of the CLI) depends on no test support', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), ['@wardwatch/flow-schema']);
});
