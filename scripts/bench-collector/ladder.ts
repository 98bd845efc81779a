// The rate ladder: one target, one format, one pass, step by step until it loses.
import { freeUdpPort, send } from './capture.ts';
import { type Format, GIVE_UP, LOSS_FREE, log, RATES, type Step, settle, type Target } from './common.ts';
import { startNfcapd } from './nfcapd.ts';
import { startNfacctd } from './pmacct.ts';
import { cpuSeconds, udpReceiveBuffer } from './proc.ts';
import { startWardwatch } from './wardwatch.ts';

/** CPU figures of one step, one line: seconds per part, the broker's, and microseconds per record. */
export function cpuLine(step: Step): string {
  const parts = Object.entries(step.cpu)
    .filter(([k]) => k !== 'total')
    .map(([k, v]) => `${k}=${v.toFixed(2)}`)
    .join(' ');
  const us = step.records > 0 ? (step.cpu.total! / step.records) * 1e6 : 0;
  return `cpu_s total=${step.cpu.total!.toFixed(2)}${parts ? ` ${parts}` : ''} broker=${step.brokerCpu.toFixed(2)} over ${step.wall.toFixed(1)} s; us/record=${us.toFixed(2)}`;
}

/** Runs one target over the rate ladder for one format and pass: per step, loss and CPU. */
export async function ladder(
  target: Target,
  format: Format,
  file: string,
  sender: string,
  pass: number,
  brokerPid: number | undefined,
): Promise<{ steps: Step[]; rss: number }> {
  const port = await freeUdpPort();
  const runner =
    target === 'wardwatch'
      ? await startWardwatch(port)
      : target === 'nfcapd'
        ? await startNfcapd(port)
        : await startNfacctd(port, format);
  const steps: Step[] = [];
  const brokerCpu = () => (brokerPid === undefined ? 0 : cpuSeconds(`/proc/${brokerPid}/stat`));
  if (pass === 1)
    log(`#   ${target} ${format}: socket receive buffer ${udpReceiveBuffer(port) ?? '?'} bytes (ss rb)`);
  try {
    // Warm-up: templates reach the collector before the measured steps.
    send(sender, file, port, 200);
    let before = await settle(() => runner.landed());
    let lossy = 0;
    for (const rate of RATES) {
      const cpu0 = await runner.cpu();
      const broker0 = brokerCpu();
      const wall0 = performance.now();
      const sent = send(sender, file, port, rate);
      const after = await settle(() => runner.landed());
      const cpu1 = await runner.cpu();
      const landed = after - before;
      before = after;
      const want = runner.unit === 'records' ? sent.records : sent.octets;
      const loss = want > 0 ? Math.max(0, 1 - landed / want) : 1;
      const cpu: Record<string, number> = {};
      for (const [k, v] of Object.entries(cpu1)) cpu[k] = Math.max(0, v - (cpu0[k] ?? 0));
      const step: Step = {
        rate,
        recordsPerSecond: Math.round(sent.records / sent.seconds),
        records: sent.records,
        sent: want,
        landed,
        loss,
        cpu,
        brokerCpu: brokerCpu() - broker0,
        wall: (performance.now() - wall0) / 1000,
      };
      steps.push(step);
      log(
        `  ${target.padEnd(9)} ${format.padEnd(5)} pass ${pass} ${String(rate).padStart(6)} datagrams/s  ${String(step.recordsPerSecond).padStart(9)} records/s  ` +
          `${runner.unit} sent=${want} landed=${landed} loss=${(loss * 100).toFixed(3)}%  ${cpuLine(step)}`,
      );
      lossy = loss >= LOSS_FREE ? lossy + 1 : 0;
      if (loss > GIVE_UP || lossy >= 2) break;
    }
  } catch (err) {
    log(`# ${target} ${format}: the ladder stopped: ${err instanceof Error ? err.message : String(err)}`);
  }
  const rss = runner.rssMb();
  await runner.close();
  return { steps, rss };
}

/** The highest records/s of a step with under LOSS_FREE loss; 0 if none. */
export function lossFree(steps: Step[]): number {
  let best = 0;
  for (const s of steps) if (s.loss < LOSS_FREE) best = Math.max(best, s.recordsPerSecond);
  return best;
}
