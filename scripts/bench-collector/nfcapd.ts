// Target: nfcapd (nfdump) writing to disk; its records are counted in its files.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { dir, type Runner, sleep, stop } from './common.ts';
import { cpuSeconds, peakRssMb } from './proc.ts';

export async function startNfcapd(port: number): Promise<Runner> {
  const flowdir = join(dir, `nfcapd-${port}`);
  let total = 0;
  let peak = 0;
  /** CPU seconds of the nfcapd processes of steps already collected. */
  let cpuDone = 0;
  let child: ChildProcess | undefined;
  const launch = async () => {
    rmSync(flowdir, { recursive: true, force: true });
    mkdirSync(flowdir, { recursive: true });
    child = spawn(
      'nfcapd',
      ['-B', '33554432', '-b', '127.0.0.1', '-p', String(port), '-w', flowdir, '-t', '3600'],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    await sleep(700);
  };
  // nfcapd's records are counted in its file, which is complete once it exits: one process per step.
  const collect = async () => {
    if (!child) return;
    peak = Math.max(peak, peakRssMb(child.pid!));
    cpuDone += cpuSeconds(`/proc/${child.pid}/stat`);
    await stop(child);
    child = undefined;
    for (const f of readdirSync(flowdir)) {
      if (!f.startsWith('nfcapd.')) continue;
      const out = execFileSync('nfdump', ['-r', join(flowdir, f), '-I'], { encoding: 'utf8' });
      total += Number(/^Flows:\s+(\d+)/m.exec(out)?.[1] ?? 0);
    }
  };
  await launch();
  return {
    unit: 'records',
    async landed() {
      await collect();
      const n = total;
      await launch();
      return n;
    },
    rssMb: () => Math.max(peak, child ? peakRssMb(child.pid!) : 0),
    async cpu() {
      const now = cpuDone + (child ? cpuSeconds(`/proc/${child.pid}/stat`) : 0);
      return { total: now };
    },
    async close() {
      await collect();
    },
  };
}
