// The polling loop of the outbox's consumers (the webhook dispatcher, the SIEM forwarder).

/** A started or stopped polling loop; see {@link createPoller}. */
export interface Poller {
  readonly stopped: boolean;
  start(): void;
  /**
   * Stops polling: no new round starts, `abort` (if given) cancels work in flight, and the promise
   * settles once the round running now has ended.
   */
  stop(abort?: () => void): Promise<void>;
}

/**
 * Runs `round` again at once while it reports work done (a result above 0), then waits `intervalMs`
 * before the next; a round that throws goes to `onError` and is retried after the wait.
 */
export function createPoller(
  round: () => Promise<number>,
  intervalMs: number,
  onError: (err: unknown) => void,
): Poller {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  const loop = async () => {
    if (stopped) return;
    try {
      while (!stopped && (await round()) > 0) {}
    } catch (err) {
      onError(err);
    }
    if (!stopped) timer = setTimeout(() => (running = loop()), intervalMs);
  };
  return {
    get stopped() {
      return stopped;
    },
    start() {
      stopped = false;
      running = loop();
    },
    async stop(abort) {
      stopped = true;
      if (timer) clearTimeout(timer);
      abort?.();
      await running?.catch(() => {});
    },
  };
}
