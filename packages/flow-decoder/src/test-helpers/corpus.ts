// Test helpers: where the shared flow corpus lives and how to read its files as export packets.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCapture, readCaptureDatagrams } from '../capture/pcap.ts';
import { splitExportPackets } from '../split.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (three levels above packages/flow-decoder/src/test-helpers). */
export const repoRoot = path.resolve(here, '../../../..');

/** `shared/` sits next to the repository root; WARDWATCH_SHARED_DIR overrides (CI clones elsewhere). */
export function sharedDir(): string {
  return process.env['WARDWATCH_SHARED_DIR'] ?? path.resolve(repoRoot, '..', 'shared');
}

/** The flow corpus directory. */
export function corpusDir(): string {
  return path.join(sharedDir(), 'flow-corpus');
}

/** True when the corpus is present (tests skip with a reason otherwise). */
export function haveCorpus(): boolean {
  return existsSync(path.join(corpusDir(), 'MANIFEST.tsv'));
}

/** One row of MANIFEST.tsv. */
export interface ManifestRow {
  file: string;
  vendor: string;
  version: string;
  packets: string;
  expected: string;
  notes: string;
}

/** Reads MANIFEST.tsv. */
export function readManifest(): ManifestRow[] {
  const lines = readFileSync(path.join(corpusDir(), 'MANIFEST.tsv'), 'utf8').trim().split('\n');
  const head = lines.shift()!.split('\t');
  const col = (n: string): number => head.indexOf(n);
  return lines.map((l) => {
    const c = l.split('\t');
    return {
      file: c[col('file')] ?? '',
      vendor: c[col('vendor')] ?? '',
      version: c[col('version')] ?? '',
      packets: c[col('packets')] ?? '',
      expected: c[col('expected_values_location')] ?? '',
      notes: c[col('notes')] ?? '',
    };
  });
}

/** One export packet from a corpus file, with the exporter address it came from. */
export interface CorpusPacket {
  exporter: string;
  receivedMs: number;
  payload: Uint8Array;
  dstPort: number;
}

/**
 * The export packets of a corpus file: UDP payloads of a capture, or the raw payload(s) of a
 * .dat/.bin (split only when the manifest says the file holds several datagrams).
 */
export function corpusPackets(file: string, packetsInManifest = '1'): CorpusPacket[] {
  const buf = new Uint8Array(readFileSync(path.join(corpusDir(), file)));
  if (isCapture(buf)) {
    return readCaptureDatagrams(buf).map((d) => ({
      exporter: d.src,
      receivedMs: d.tsMs,
      payload: d.payload,
      dstPort: d.dstPort,
    }));
  }
  const parts = Number(packetsInManifest) > 1 ? splitExportPackets(buf) : [buf];
  return parts.map((payload) => ({ exporter: '192.0.2.1', receivedMs: 0, payload, dstPort: 0 }));
}
