// One queue for everything that touches the models: batches, assignments and reloads never interleave.

/** Runs functions one after another, each after everything queued before it settled. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after everything queued before it. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => {});
    return run;
  }

  /** Settles once everything queued so far has run. */
  idle(): Promise<unknown> {
    return this.tail;
  }
}
