import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createDecoderState, decodePacket, readCaptureDatagrams } from '@wardwatch/flow-decoder';
import { decodeCommand } from './decode.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const corpus = path.join(
  process.env['WARDWATCH_SHARED_DIR'] ?? path.resolve(repoRoot, '..', 'shared'),
  'flow-corpus',
);
const skip = existsSync(path.join(corpus, 'MANIFEST.tsv')) ? false : 'shared flow corpus not found';

/** Runs the command in-process, collecting what it writes to stdout and stderr. */
async function run(args: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const ewrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array, cb?: () => void) => {
    out.push(String(chunk));
    if (typeof cb === 'function') cb();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await decodeCommand(args);
    return { code, out: out.join('').split('\n').filter(Boolean), err };
  } finally {
    process.stdout.write = write;
    process.stderr.write = ewrite;
  }
}

describe('wardwatch decode', { skip }, () => {
  test('prints every record of every corpus pcap as a JSON line', async () => {
    const pcaps = readFileSync(path.join(corpus, 'MANIFEST.tsv'), 'utf8')
      .split('\n')
      .map((l) => l.split('\t')[0]!)
      .filter((f) => f.endsWith('.pcap'));
    assert.ok(pcaps.length >= 30);
    let total = 0;
    for (const file of pcaps) {
      const full = path.join(corpus, file);
      const { code, out } = await run([full]);
      assert.equal(code, 0, file);
      // The same count straight from the decoder.
      const state = createDecoderState();
      let want = 0;
      for (const d of readCaptureDatagrams(new Uint8Array(readFileSync(full)))) {
        const v = (d.payload[0]! << 8) | d.payload[1]!;
        if (v === 5 || v === 9 || v === 10) {
          want += decodePacket(d.payload, state, { exporter: d.src, receivedMs: d.tsMs }).records.length;
        }
      }
      assert.equal(out.length, want, file);
      for (const line of out) {
        const o = JSON.parse(line) as Record<string, unknown>;
        assert.equal(typeof o['exporter'], 'string');
        assert.equal(typeof o['domain'], 'number');
        assert.equal(typeof o['templateId'], 'number');
        assert.ok((o['samplingRate'] as number) >= 1);
      }
      total += out.length;
    }
    assert.ok(total > 10000, `${total} records printed`);
  });

  test('raw .dat files with several datagrams, options records and enterprise fields by name', async () => {
    const v5 = await run([path.join(corpus, 'logstash-codec-netflow/spec/codecs/netflow5.dat')]);
    assert.equal(v5.code, 0);
    assert.equal(v5.out.length, 30);
    assert.equal((JSON.parse(v5.out[0]!) as { version: number }).version, 5);
    const opts = await run([
      '--options',
      path.join(corpus, 'logstash-codec-netflow/spec/codecs/netflow9_test_invalid01.dat'),
    ]);
    const lines = opts.out.map((l) => JSON.parse(l) as Record<string, unknown>);
    const option = lines.find((l) => l['options'] === true) as { fields: Record<string, unknown> };
    assert.equal(option.fields['samplingInterval'], 100);
    const flows = lines.filter((l) => l['options'] !== true);
    assert.deepEqual(
      flows.map((f) => f['samplingRate']),
      [100, 100],
    );
    const biflow = await run([
      path.join(corpus, 'logstash-codec-netflow/spec/codecs/ipfix_test_ixia_tpldata256.dat'),
    ]);
    const extra = (JSON.parse(biflow.out[0]!) as { extra: Record<string, unknown> }).extra;
    assert.ok(
      Object.keys(extra).some((k) => k.startsWith('3054.')),
      JSON.stringify(extra),
    );
  });

  test('typed errors go to stderr, and bad usage exits 2', async () => {
    const bad = await run([
      path.join(corpus, 'logstash-codec-netflow/spec/codecs/netflow5_test_invalid01.dat'),
    ]);
    assert.equal(bad.code, 0);
    assert.match(bad.err, /"error":"MALFORMED"/);
    assert.equal((await run([])).code, 2);
    assert.equal((await run(['--bogus', 'x'])).code, 2);
    assert.equal((await run(['/nonexistent/file.pcap'])).code, 1);
  });

  test('pnpm wardwatch decode - reads standard input', () => {
    const input = readFileSync(
      path.join(corpus, 'telegraf/plugins/inputs/netflow/testcases/netflow_v9_example/netflow_v9.bin'),
    );
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'cli/src/main.ts'), 'decode', '-'],
      {
        input,
        cwd: repoRoot,
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 8);
    assert.equal((JSON.parse(lines[0]!) as { srcAddr: string }).srcAddr, '140.82.121.3');
  });
});

describe('wardwatch decode, sFlow v5', () => {
  test('a capture of sFlow datagrams prints one record per flow sample, and counters with --options', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { sflowSeeds } = await import('../../../packages/flow-decoder/src/test-helpers/sflow-builder.ts');
    const { udpFrame, writePcap } = await import(
      '../../../packages/flow-decoder/src/test-helpers/pcap-writer.ts'
    );
    const dir = mkdtempSync(path.join(tmpdir(), 'ww-decode-sflow-'));
    try {
      const file = path.join(dir, 'sflow.pcap');
      const seeds = sflowSeeds();
      writeFileSync(
        file,
        writePcap(
          seeds.map((d, i) => ({
            tsMs: 1_700_000_000_000 + i,
            data: udpFrame('10.9.9.9', '10.0.0.1', 50000, 6343, d),
          })),
        ),
      );
      const plain = await run([file]);
      assert.equal(plain.code, 0);
      assert.equal(plain.out.length, 4, 'three flow samples, then one');
      const first = JSON.parse(plain.out[0]!) as Record<string, unknown>;
      assert.equal(first['exporter'], '192.0.2.1', 'the agent address, not the UDP source');
      assert.equal(first['version'], 1005);
      assert.equal(first['samplingRate'], 64);
      assert.equal(first['srcVlan'], 20);
      const withCounters = await run(['--options', file]);
      const counters = withCounters.out
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((o) => o['counters']);
      assert.deepEqual(
        counters.map((c) => c['ifIndex']),
        [3, 4],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
