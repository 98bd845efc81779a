import { pino } from 'pino';

/** The structured JSON logger every component receives. */
export type Logger = pino.Logger;

/** Creates a JSON logger (pino) for one component. */
export function createLogger(opts: { level: string; name?: string }): Logger {
  return pino({ level: opts.level, name: opts.name ?? 'wardwatch', base: { pid: process.pid } });
}

/**
 * Rate-limits a hot-path log line: at most one line per `intervalMs`, with the count of suppressed
 * occurrences attached, so a flood of bad packets cannot flood the log.
 */
export function createRateLimitedLog(
  log: (fields: Record<string, unknown>, msg: string) => void,
  intervalMs = 10_000,
): (fields: Record<string, unknown>, msg: string) => void {
  let last = 0;
  let suppressed = 0;
  return (fields, msg) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    log({ ...fields, suppressed }, msg);
    last = now;
    suppressed = 0;
  };
}
