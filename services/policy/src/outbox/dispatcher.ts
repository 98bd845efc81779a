import type { Logger } from '@wardwatch/telemetry';
import type pg from 'pg';
import type { PolicyMetrics } from '../metrics.ts';
import { createPoller } from './poller.ts';
import type { SecretBox } from './secrets.ts';
import { signWebhook } from './signing.ts';

/** How the dispatcher retries. */
export interface DispatcherOptions {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  pollIntervalMs: number;
  timeoutMs: number;
}

/** What one HTTP attempt came to: an expected outcome, not an exception. */
export type AttemptResult =
  | { kind: 'delivered'; status: number }
  | { kind: 'retryable'; status: number | null; error: string }
  | { kind: 'failed'; status: number; error: string };

interface DueRow {
  id: number;
  webhook_id: string;
  attempts: number;
  url: string;
  secret: string;
  event_id: number;
  type: string;
  idempotency_key: string;
  payload: unknown;
  created_at: Date;
}

/** Delay before attempt `n + 1` after `n` failures: base * 2^(n-1), capped, with +-20% jitter. */
export function backoffMs(
  failures: number,
  o: Pick<DispatcherOptions, 'backoffBaseMs' | 'backoffMaxMs'>,
): number {
  const raw = Math.min(o.backoffMaxMs, o.backoffBaseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

/** The body of a webhook: the same bytes on every attempt, so receivers can compare. */
export function webhookBody(e: {
  idempotency_key: string;
  type: string;
  created_at: Date;
  payload: unknown;
}): string {
  return JSON.stringify({
    id: e.idempotency_key,
    type: e.type,
    createdAt: e.created_at.toISOString(),
    data: e.payload,
  });
}

/**
 * Delivers the outbox to webhook subscribers. Each round claims due deliveries with a lease (their
 * next_attempt_at moves past the request timeout, under FOR UPDATE SKIP LOCKED), so several processes
 * can run it and a process that dies mid-request leaves the delivery to be retried after the lease:
 * at least once, with the event's idempotency key on every attempt so receivers can drop repeats.
 */
export function createDispatcher(deps: {
  pool: pg.Pool;
  secrets: SecretBox;
  logger: Logger;
  metrics: PolicyMetrics;
  options: DispatcherOptions;
}) {
  const { pool, secrets, logger, metrics, options } = deps;
  const inflight = new Set<AbortController>();

  async function attempt(d: DueRow): Promise<AttemptResult> {
    const body = webhookBody(d);
    const t = Math.floor(Date.now() / 1000);
    const ac = new AbortController();
    inflight.add(ac);
    const timeout = setTimeout(() => ac.abort(), options.timeoutMs);
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        signal: ac.signal,
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Wardwatch-Webhook/1',
          'wardwatch-signature': signWebhook(secrets.open(d.secret), body, t),
          'wardwatch-event': d.type,
          'idempotency-key': d.idempotency_key,
          'wardwatch-delivery': String(d.id),
        },
        body,
      });
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status };
      // 4xx other than 408/429 means the receiver refuses this event, and redirects are not followed
      // (a signed body is not re-sent elsewhere): retrying will not help.
      if (res.status >= 300 && res.status < 500 && res.status !== 408 && res.status !== 429)
        return { kind: 'failed', status: res.status, error: `HTTP ${res.status}` };
      return { kind: 'retryable', status: res.status, error: `HTTP ${res.status}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return { kind: 'retryable', status: null, error: e.cause?.code ?? e.name ?? 'error' };
    } finally {
      clearTimeout(timeout);
      inflight.delete(ac);
    }
  }

  async function record(d: DueRow, r: AttemptResult, ms: number): Promise<void> {
    const attempts = d.attempts + 1;
    const error = r.kind === 'delivered' ? null : r.error.slice(0, 500);
    await pool.query(
      'INSERT INTO webhook_attempts (delivery_id, webhook_id, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)',
      [d.id, d.webhook_id, r.status, error, ms],
    );
    if (r.kind === 'delivered') {
      await pool.query(
        `UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, last_attempt_at = now(),
           last_status_code = $3, last_error = NULL, delivered_at = now() WHERE id = $1`,
        [d.id, attempts, r.status],
      );
    } else {
      const give = r.kind === 'failed' || attempts >= options.maxAttempts;
      await pool.query(
        `UPDATE webhook_deliveries SET status = $2, attempts = $3, last_attempt_at = now(), last_status_code = $4,
           last_error = $5, next_attempt_at = now() + make_interval(secs => $6::double precision / 1000) WHERE id = $1`,
        [
          d.id,
          give ? 'failed' : 'pending',
          attempts,
          r.status,
          error,
          give ? 0 : backoffMs(attempts, options),
        ],
      );
    }
    metrics.webhookAttempts.inc({ outcome: r.kind });
  }

  /** One round: claims up to 50 due deliveries and attempts them (concurrently per round). */
  async function round(): Promise<number> {
    const lease = options.timeoutMs + 5000;
    const { rows } = await pool.query<DueRow>(
      `WITH due AS (
         SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()
         ORDER BY next_attempt_at LIMIT 50 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_deliveries wd SET next_attempt_at = now() + make_interval(secs => $1::double precision / 1000)
       FROM due, webhooks w, events e
       WHERE wd.id = due.id AND w.id = wd.webhook_id AND e.id = wd.event_id
       RETURNING wd.id, wd.webhook_id, wd.attempts, w.url, w.secret, e.id AS event_id, e.type, e.idempotency_key,
                 e.payload, e.created_at`,
      [lease],
    );
    await Promise.all(
      rows.map(async (d) => {
        const started = Date.now();
        let r: AttemptResult;
        try {
          r = await attempt(d);
        } catch (err) {
          r = { kind: 'retryable', status: null, error: (err as Error).message };
        }
        if (poller.stopped && r.kind === 'retryable' && r.error === 'AbortError') return; // shutting down: lease expires, retried later
        await record(d, r, Date.now() - started);
      }),
    );
    return rows.length;
  }

  const poller = createPoller(round, options.pollIntervalMs, (err) =>
    logger.warn({ err }, 'webhook dispatch round failed'),
  );

  return {
    round,
    start: poller.start,
    /** Stops polling and aborts requests in flight; their deliveries are retried after the lease. */
    stop: () =>
      poller.stop(() => {
        for (const ac of inflight) ac.abort();
      }),
  };
}
