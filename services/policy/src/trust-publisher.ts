import { Topics } from '@wardwatch/flow-schema';
import type { Logger } from '@wardwatch/telemetry';
import type { Publisher, Transport } from '@wardwatch/transport';
import type pg from 'pg';

/** How often the trust table is compared with what was published, and how often all of it is published again. */
const POLL_MS = 1000;
const FULL_EVERY = 30;

/**
 * Publishes exporter trust (table exporter_trust, owned by this service) on the compacted
 * `exporter-trust-v1` topic, where the collectors read it: a change within a second, and the whole
 * table every 30 s (the in-process bus of embedded mode keeps no history for a late subscriber).
 */
export function createTrustPublisher(deps: { transport: Transport; pool: pg.Pool; logger: Logger }) {
  const { transport, pool, logger } = deps;
  const sent = new Map<string, string>();
  let publisher: Publisher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let rounds = 0;

  async function round(): Promise<number> {
    const { rows } = await pool.query<{ address: string; state: string }>(
      'SELECT host(address) AS address, state FROM exporter_trust',
    );
    const full = rounds++ % FULL_EVERY === 0;
    const out = rows.filter((r) => full || sent.get(r.address) !== r.state);
    if (out.length === 0 || !publisher) return 0;
    await publisher.publish(
      Topics.exporterTrust,
      out.map((r) => ({ key: r.address, value: Buffer.from(JSON.stringify({ state: r.state })) })),
    );
    for (const r of out) sent.set(r.address, r.state);
    return out.length;
  }

  return {
    round,
    async start() {
      await transport.ensureTopic(Topics.exporterTrust, 1, { compacted: true });
      publisher = await transport.createPublisher({ retries: 2 });
      timer = setInterval(() => {
        running ??= round()
          .then(() => {})
          .catch((err) => logger.warn({ err }, 'publishing exporter trust failed; retrying'))
          .finally(() => (running = undefined));
      }, POLL_MS);
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running;
      await publisher?.close().catch(() => {});
    },
  };
}
