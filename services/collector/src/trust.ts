// Exporter trust as the policy service publishes it on the compacted `exporter-trust-v1` topic: the
// receivers drop blocked exporters' packets, and only trusted exporters' templates are shared on
// `templates-v1`. Without a decision, an exporter inside collector.exporterAllowlist is trusted (an
// empty allowlist admits every exporter, pending until trusted); one outside a non-empty allowlist is
// not admitted at all.
import { Topics } from '@wardwatch/flow-schema';
import type { Logger } from '@wardwatch/telemetry';
import type { ConsumedBatch, Subscriber, Transport } from '@wardwatch/transport';
import { createAllowlist } from './receivers.ts';

/** Whether a packet from an exporter is taken, and if not why. */
export type Admission = 'ok' | 'not_allowed' | 'blocked';

/** The collector's view of exporter trust. */
export interface TrustView {
  admit(exporter: string): Admission;
  trusted(exporter: string): boolean;
  /** Applies trust messages (the subscriber's handler; tests call it directly). */
  handle(batch: ConsumedBatch): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Creates the view; `start()` follows the topic with a consumer group of this collector's own. */
export function createTrustView(deps: {
  transport?: Transport;
  allowlist: readonly string[];
  groupId: string;
  logger: Logger;
  /** Called after trust messages were applied (to share the templates of newly trusted exporters). */
  onChange?: () => void;
}): TrustView {
  const inList = createAllowlist(deps.allowlist);
  const listed = deps.allowlist.length > 0;
  const states = new Map<string, string>();
  const text = new TextDecoder();
  let subscriber: Subscriber | undefined;
  const view: TrustView = {
    admit(exporter) {
      if (states.get(exporter) === 'blocked') return 'blocked';
      return inList(exporter) ? 'ok' : 'not_allowed';
    },
    trusted(exporter) {
      const s = states.get(exporter);
      if (s !== undefined) return s === 'trusted';
      return listed && inList(exporter);
    },
    async handle(batch) {
      for (const m of batch.messages) {
        if (!m.value || m.value.length === 0) {
          states.delete(m.key);
          continue;
        }
        try {
          const state = (JSON.parse(text.decode(m.value)) as { state?: unknown }).state;
          if (state === 'trusted' || state === 'pending' || state === 'blocked') states.set(m.key, state);
        } catch {
          deps.logger.warn({ key: m.key }, 'undecodable exporter-trust-v1 message skipped');
        }
      }
      deps.onChange?.();
    },
    async start() {
      if (!deps.transport) return;
      await deps.transport.ensureTopic(Topics.exporterTrust, 1, { compacted: true });
      subscriber = await deps.transport.createSubscriber(deps.groupId);
      await subscriber.start(Topics.exporterTrust, (b) => view.handle(b));
    },
    async stop() {
      await subscriber?.close();
    },
  };
  return view;
}
