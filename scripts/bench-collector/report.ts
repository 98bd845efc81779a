// The report: each target's figure over its passes, the CPU per record compared, the last key=value line.
import { FORMATS, LOSS_FREE, log, RATES, type Step, TARGETS, type Target, takes } from './common.ts';
import { lossFree } from './ladder.ts';

/** Prints the summary: CPU per record over the highest step all targets held, then the key=value line. */
export function report(runs: Map<string, { steps: Step[]; rss: number }[]>): void {
  const results = new Map<string, { rps: number; rss: number }>();
  for (const [key, list] of runs) {
    results.set(key, {
      rps: Math.min(...list.map((r) => lossFree(r.steps))),
      rss: Math.max(...list.map((r) => r.rss)),
    });
  }

  // CPU per record over the highest step that every target held loss-free in every format and pass.
  // sFlow is compared on its own (its records are samples, about 6 a datagram against ~31).
  const NETFLOW = FORMATS.filter((f) => f !== 'sflow');
  const all = [...runs.entries()].filter(([k]) => !k.endsWith('_sflow')).flatMap(([, v]) => v);
  // (No NetFlow format in the run, e.g. BENCH_FORMATS=sflow: nothing to compare here.)
  const common =
    all.length === 0
      ? undefined
      : [...RATES]
          .reverse()
          .find((rate) => all.every((r) => r.steps.some((s) => s.rate === rate && s.loss < LOSS_FREE)));
  const cpuPerRecord = new Map<Target, number>();
  if (common !== undefined) {
    for (const target of TARGETS as Target[]) {
      if (target === 'sfacctd') continue;
      let cpu = 0;
      let records = 0;
      const parts: Record<string, number> = {};
      let broker = 0;
      for (const format of NETFLOW) {
        for (const r of runs.get(`${target}_${format}`) ?? []) {
          const s = r.steps.find((x) => x.rate === common)!;
          cpu += s.cpu.total!;
          records += s.records;
          broker += s.brokerCpu;
          for (const [k, v] of Object.entries(s.cpu)) if (k !== 'total') parts[k] = (parts[k] ?? 0) + v;
        }
      }
      const us = (cpu / records) * 1e6;
      cpuPerRecord.set(target, us);
      const per = Object.entries(parts)
        .map(([k, v]) => `${k}=${((v / records) * 1e6).toFixed(2)}`)
        .join(' ');
      log(
        `= ${target} CPU at ${common} datagrams/s (every target loss-free): ${us.toFixed(2)} us/record${per ? ` (${per})` : ''}; broker ${((broker / records) * 1e6).toFixed(2)} us/record`,
      );
    }
  } else if (all.length > 0) {
    log('= no step was loss-free for every target in every pass: no CPU per record compared');
  }

  const kv: string[] = [];
  for (const target of TARGETS as Target[]) {
    const per = FORMATS.filter((f) => takes(target, f)).map((f) => results.get(`${target}_${f}`)!);
    if (per.length > 0) kv.push(`${target}_lossfree_rps=${Math.min(...per.map((p) => p.rps))}`);
  }
  for (const target of TARGETS as Target[]) {
    const per = FORMATS.filter((f) => takes(target, f)).map((f) => results.get(`${target}_${f}`)!);
    if (per.length === 0) continue;
    kv.push(`${target}_rss_mb=${Math.round(Math.max(...per.map((p) => p.rss)))}`);
  }
  for (const [k, v] of results) kv.push(`${k}_lossfree_rps=${v.rps}`);
  kv.push(`cpu_step_dps=${common ?? 0}`);
  for (const target of TARGETS as Target[]) {
    const us = cpuPerRecord.get(target);
    if (target !== 'sfacctd')
      kv.push(`${target}_cpu_us_per_record=${us === undefined ? 'NaN' : us.toFixed(2)}`);
  }
  log(kv.join(' '));
}
