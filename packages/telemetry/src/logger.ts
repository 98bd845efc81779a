import { pino } from 'pino';
import pretty from 'pino-pretty';
import { activeTraceIds } from './trace.ts';

/** The structured JSON logger every component receives. */
export type Logger = pino.Logger;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: string;
  name?: string;
  /** Where lines go (default stdout); tests pass a stream. */
  destination?: pino.DestinationStream;
  /** Lines for a person (time, level, message, fields) instead of JSON: for a terminal. */
  pretty?: boolean;
}

/**
 * Creates a JSON logger (pino) for one component (or, with `pretty`, one writing lines for a person). A line written inside an active OpenTelemetry span
 * carries its `trace_id` and `span_id`, so logs and traces can be joined.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    name: opts.name ?? 'wardwatch',
    base: { pid: process.pid },
    mixin: activeTraceIds,
  };
  if (opts.pretty)
    return pino(
      options,
      pretty({
        sync: true,
        colorize: true,
        translateTime: 'SYS:HH:MM:ss.l',
        singleLine: true,
        ignore: 'pid,hostname,name',
        destination: 1,
      }),
    );
  return opts.destination ? pino(options, opts.destination) : pino(options);
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
