import { Counter, type Registry } from '@wardwatch/telemetry';

/** The policy service's own metrics. */
export function createPolicyMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    webhookAttempts: get(
      'wardwatch_webhook_attempts_total',
      () =>
        new Counter({
          name: 'wardwatch_webhook_attempts_total',
          help: 'Webhook delivery attempts by outcome (delivered, retryable, failed)',
          labelNames: ['outcome'],
          registers: [registry],
        }),
    ),
    siemSent: get(
      'wardwatch_siem_messages_total',
      () =>
        new Counter({
          name: 'wardwatch_siem_messages_total',
          help: 'CEF messages sent to the SIEM',
          registers: [registry],
        }),
    ),
    siemErrors: get(
      'wardwatch_siem_errors_total',
      () =>
        new Counter({
          name: 'wardwatch_siem_errors_total',
          help: 'Failed SIEM forwarding rounds',
          registers: [registry],
        }),
    ),
    enforced: get(
      'wardwatch_policy_quarantines_total',
      () =>
        new Counter({
          name: 'wardwatch_policy_quarantines_total',
          help: 'Devices quarantined automatically by a policy action',
          registers: [registry],
        }),
    ),
    decisions: get(
      'wardwatch_enforcement_decisions_total',
      () =>
        new Counter({
          name: 'wardwatch_enforcement_decisions_total',
          help: "Decisions on analytics' quarantine requests by outcome (quarantined, requested, dry-run, untrusted, ...)",
          labelNames: ['outcome'],
          registers: [registry],
        }),
    ),
  };
}

/** The policy service's metrics. */
export type PolicyMetrics = ReturnType<typeof createPolicyMetrics>;
