// The receive buffer both collectors get: the kernel caps SO_RCVBUF at net.core.rmem_max (4 MiB on many
// hosts), while a daemon running as root may force a larger one (SO_RCVBUFFORCE). Run as root, the
// benchmark raises the cap for the run to what the collectors ask for (Wardwatch's
// collector.receiveBufferBytes and pmacct's *_pipe_size, both 32 MiB here) and restores it afterwards, so
// neither gets a larger buffer than the other.
import { readFileSync, writeFileSync } from 'node:fs';

const RMEM_MAX = '/proc/sys/net/core/rmem_max';

/** `BENCH_RMEM_MAX`: bytes to raise the cap to for the run; 0 leaves the host's setting alone. */
export const WANTED_RMEM_MAX = Number(process.env.BENCH_RMEM_MAX ?? 32 << 20);

let original: number | undefined;

function read(): number | undefined {
  try {
    return Number(readFileSync(RMEM_MAX, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** Raises net.core.rmem_max to `bytes` if it is lower and this process may; returns a line for the report. */
export function raiseRmemMax(bytes: number): string {
  const now = read();
  if (now === undefined) return '# net.core.rmem_max: not readable here';
  if (bytes <= 0 || now >= bytes) return `# net.core.rmem_max=${now} (left as set on the host)`;
  try {
    writeFileSync(RMEM_MAX, String(bytes));
  } catch (err) {
    return `# net.core.rmem_max=${now} (could not raise it to ${bytes}: ${(err as NodeJS.ErrnoException).code}); socket buffers are capped there`;
  }
  original = now;
  return `# net.core.rmem_max=${read()} for this run (was ${now}; restored at the end)`;
}

/** Puts back the value found at the start, if the benchmark changed it. */
export function restoreRmemMax(): void {
  if (original === undefined) return;
  try {
    writeFileSync(RMEM_MAX, String(original));
    original = undefined;
  } catch {}
}
