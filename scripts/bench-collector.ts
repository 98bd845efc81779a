// Collector benchmark (`pnpm bench:collector`): replays softflowd's NetFlow v9 and IPFIX exports of one
// generated pcap, at increasing rates, to (a) Wardwatch's collector publishing to the real Kafka broker,
// (b) nfcapd (nfdump) writing to disk, (c) nfacctd (pmacct) with its Kafka plugin to the same broker;
// and pmacctd's sFlow v5 (sfprobe, 1:1) of the same pcap to Wardwatch and to (d) sfacctd (pmacct) with
// its Kafka plugin. Same packets, same sender (a C program compiled here), same run. For each it prints
// per-step loss and CPU (per thread for Wardwatch, per process for the pmacct daemons, and the Kafka
// broker's), the highest rate with < 0.1% loss (the lower of two passes) and the peak RSS; the last line
// is key=value figures, among them the CPU per record of each NetFlow/IPFIX target over the highest step
// that every one of them held loss-free.
//
// Loss is measured where the data lands: Wardwatch's records acknowledged by Kafka (acks=all), nfcapd's
// records in its file (nfdump -I), nfacctd's bytes in its Kafka messages (it aggregates records, so it
// is compared by the octets the records carried). For sFlow a record is a flow sample: at 1:1 each is one
// packet, so sfacctd's aggregated `packets` count its samples exactly (its octets include L2 framing). Loopback only; every loop is bounded in count and time.
//
// Environment: BENCH_RATES (datagrams/s, comma list), BENCH_SECONDS (per step, default 5), BENCH_PASSES
// (default 2), BENCH_TARGETS (wardwatch,nfcapd,nfacctd,sfacctd), BENCH_FORMATS (v9,ipfix,sflow),
// BENCH_COMPRESSION (Wardwatch's Kafka compression, default lz4, the configuration's default),
// BENCH_COLLECTOR_YAML (extra lines for Wardwatch's `collector:` section, e.g. '  batchRecords: 1000'),
// BENCH_NODE_OPTIONS (the collector's NODE_OPTIONS, default its deployed '--max-semi-space-size=8'),
// BENCH_RMEM_MAX (run as root: net.core.rmem_max for the run, default 32 MiB, restored after; 0: unchanged),
// KAFKA_BROKERS (default 127.0.0.1:9092: the broker already running there is used, never a second one).
//
// Layout: this file assembles the run; bench-collector/ holds the settings (common.ts), the sender and
// capture (capture.ts), one module per target (wardwatch.ts, nfcapd.ts, pmacct.ts), the /proc readers
// (proc.ts), the socket buffer cap (rmem.ts), the rate ladder (ladder.ts) and the summary (report.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTool, writePcap } from '../packages/testkit/src/index.ts';
import { captureExport, compileSender } from './bench-collector/capture.ts';
import {
  brokers,
  COLLECTOR_YAML,
  COMPRESSION,
  dir,
  FLOWS,
  FORMATS,
  type Format,
  Kafka,
  log,
  logLevel,
  PASSES,
  RATES,
  runId,
  SECONDS,
  type Step,
  TARGETS,
  type Target,
  takes,
} from './bench-collector/common.ts';
import { ladder, lossFree } from './bench-collector/ladder.ts';
import { listenerPid } from './bench-collector/proc.ts';
import { report } from './bench-collector/report.ts';
import { raiseRmemMax, restoreRmemMax, WANTED_RMEM_MAX } from './bench-collector/rmem.ts';
import { prebuild } from './bench-collector/wardwatch.ts';

async function main(): Promise<void> {
  for (const [cmd, pkg] of [
    ['softflowd', 'softflowd'],
    ['nfcapd', 'nfdump'],
    ['nfacctd', 'pmacct'],
    ['pmacctd', 'pmacct'],
    ['gcc', 'gcc'],
  ] as const) {
    if (TARGETS.includes('nfcapd') || cmd !== 'nfcapd') ensureTool(cmd, pkg);
  }
  log(
    `# collector benchmark ${new Date().toISOString()}: ${SECONDS} s per step, ${PASSES} passes, rates ${RATES.join(',')} datagrams/s, Wardwatch compression ${COMPRESSION}${COLLECTOR_YAML ? `, collector: ${COLLECTOR_YAML}` : ''}`,
  );
  log(
    `# machine: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores (shared with other work: figures are indicative; compare targets within the run)`,
  );
  log(raiseRmemMax(WANTED_RMEM_MAX));
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      restoreRmemMax();
      process.exit(130);
    });
  const brokerPort = Number(brokers[0]!.split(':').pop());
  const brokerPid = listenerPid(brokerPort);
  log(
    brokerPid === undefined
      ? `# the Kafka broker on port ${brokerPort} is not a local process: its CPU is not measured`
      : `# Kafka broker: pid ${brokerPid} (shared: its CPU includes any other client's load)`,
  );
  const sender = compileSender();
  if (TARGETS.includes('wardwatch')) prebuild();
  const pcap = join(dir, 'flows.pcap');
  const t0 = Date.now() - 120_000;
  writePcap(
    pcap,
    Array.from({ length: FLOWS }, (_, i) => ({
      tsMs: t0 + Math.floor(i / 20),
      src: `10.${(i >> 12) & 15}.${(i >> 6) & 63}.${(i & 63) + 1}`,
      dst: `203.0.113.${(i % 250) + 1}`,
      protocol: (i % 3 === 0 ? 17 : 6) as 6 | 17,
      srcPort: 10_000 + (i % 50_000),
      dstPort: i % 3 === 0 ? 53 : 443,
      payload: 40 + (i % 1200),
    })),
  );
  const files: Record<Format, string> = { v9: '', ipfix: '', sflow: '' };
  for (const f of FORMATS) files[f] = await captureExport(pcap, f);

  // Passes run one after the other over every target, so a change in the machine's other load falls on
  // all targets alike; each target's figure is its lower pass.
  const runs = new Map<string, { steps: Step[]; rss: number }[]>();
  for (let pass = 1; pass <= PASSES; pass++) {
    for (const target of TARGETS as Target[]) {
      for (const format of FORMATS) {
        if (!takes(target, format)) continue;
        const r = await ladder(target, format, files[format], sender, pass, brokerPid);
        const key = `${target}_${format}`;
        runs.set(key, [...(runs.get(key) ?? []), r]);
        log(
          `= ${target} ${format} pass ${pass}: highest rate with < 0.1% loss ${lossFree(r.steps)} records/s; peak RSS ${r.rss.toFixed(0)} MB`,
        );
      }
    }
  }
  await cleanup();
  report(runs);
}

async function cleanup(): Promise<void> {
  restoreRmemMax();
  // The benchmark's topics hold millions of records: remove them from the shared broker.
  const kafka = new Kafka({ clientId: 'bench-collector', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${runId}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } catch (err) {
    log(`# could not delete the benchmark topics: ${err}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

main().catch(async (err) => {
  console.error(err);
  await cleanup().catch(() => {});
  process.exitCode = 1;
});
