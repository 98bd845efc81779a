// Exporter trust as the policy service publishes it on the compacted `exporter-trust-v1` topic: the
// receivers drop blocked exporters' packets, and only trusted exporters' templates are shared on
// `templates-v1`. Without a decision, an exporter inside collector.exporterAllowlist is trusted (an
// empty allowlist admits every exporter, pending until trusted); one outside a non-empty allowlist is
// not admitted at all.
import { Topics } from '@wardwatch/flow-schema';
import type { Logger } from '@wardwatch/telemetry';
import type { Transport } from '@wardwatch/transport';
import { createAllowlist } from './receivers.ts';

/** Whether a packet from an exporter is taken, and if not why. */
export type Admission = 'ok' | 'not_allowed' | 'blocked';

/** The collector's view of exporter trust. */
export interface TrustView {
  admit(exporter: string): Admission;
  trusted(exporter: string): boolean;
  /** Exporters an admin blocked (for the UDP receive thread's own check). */
  blocked(): string[];
  /** Reads the whole topic again and replaces the view (every few seconds once started). */
  refresh(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** How often the compacted topic is read again, milliseconds. */
const REFRESH_MS = 5000;

/**
 * Creates the view. It reads the compacted topic whole every few seconds (a short-lived reader each time)
 * rather than holding a consumer group: a broker outage then costs a few missed refreshes, never a
 * consumer left reconnecting after the collector stopped.
 */
export function createTrustView(deps: {
  transport?: Transport;
  allowlist: readonly string[];
  logger: Logger;
  /** Called after the view changed (to share the templates of newly trusted exporters). */
  onChange?: () => void;
}): TrustView {
  const inList = createAllowlist(deps.allowlist);
  const listed = deps.allowlist.length > 0;
  let states = new Map<string, string>();
  const text = new TextDecoder();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const view: TrustView = {
    admit(exporter) {
      if (states.get(exporter) === 'blocked') return 'blocked';
      return inList(exporter) ? 'ok' : 'not_allowed';
    },
    blocked() {
      return [...states].flatMap(([k, v]) => (v === 'blocked' ? [k] : []));
    },
    trusted(exporter) {
      const s = states.get(exporter);
      if (s !== undefined) return s === 'trusted';
      return listed && inList(exporter);
    },
    async refresh() {
      if (!deps.transport) return;
      const snap = await deps.transport.readTopic(Topics.exporterTrust, { timeoutMs: 10_000 });
      const next = new Map<string, string>();
      for (const m of snap.messages) {
        if (!m.value || m.value.length === 0) {
          next.delete(m.key);
          continue;
        }
        try {
          const state = (JSON.parse(text.decode(m.value)) as { state?: unknown }).state;
          if (state === 'trusted' || state === 'pending' || state === 'blocked') next.set(m.key, state);
        } catch {
          deps.logger.warn({ key: m.key }, 'undecodable exporter-trust-v1 message skipped');
        }
      }
      // An incomplete read (timeout) only adds what it saw; a complete one is the whole truth.
      if (snap.complete) states = next;
      else for (const [k, v] of next) states.set(k, v);
      deps.onChange?.();
    },
    async start() {
      if (!deps.transport) return;
      await deps.transport.ensureTopic(Topics.exporterTrust, 1, { compacted: true });
      await view.refresh().catch((err) => deps.logger.warn({ err }, 'exporter trust not read; retrying'));
      timer = setInterval(() => {
        running ??= view
          .refresh()
          .catch((err) => deps.logger.warn({ err }, 'exporter trust not read; retrying'))
          .finally(() => (running = undefined));
      }, REFRESH_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
  return view;
}
