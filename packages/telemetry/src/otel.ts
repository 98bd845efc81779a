import type { SpanProcessor } from '@opentelemetry/sdk-trace';

type Env = Record<string, string | undefined>;

/** Whether the standard OTEL_* variables ask for the OpenTelemetry SDK, and why. */
export interface OpenTelemetryDecision {
  enabled: boolean;
  reason: string;
}

const EXPORTER_VARS = ['OTEL_TRACES_EXPORTER', 'OTEL_METRICS_EXPORTER', 'OTEL_LOGS_EXPORTER'] as const;
const ENDPOINT_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] as const;

/**
 * OpenTelemetry is opt-in: on when an `OTEL_*_EXPORTER` variable names an exporter other than `none`,
 * or, when none of those is set, when an OTLP endpoint is; always off with `OTEL_SDK_DISABLED=true`.
 */
export function openTelemetryRequested(env: Env): OpenTelemetryDecision {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };
  }
  const named = EXPORTER_VARS.filter((v) => (env[v] ?? '').trim() !== '');
  if (named.length > 0) {
    const active = named.filter((v) =>
      env[v]!.split(',').some((x) => x.trim() !== '' && x.trim().toLowerCase() !== 'none'),
    );
    return active.length > 0
      ? { enabled: true, reason: active.map((v) => `${v}=${env[v]}`).join(', ') }
      : { enabled: false, reason: `${named.join(', ')}: none` };
  }
  const endpoint = ENDPOINT_VARS.find((v) => (env[v] ?? '').trim() !== '');
  return endpoint
    ? { enabled: true, reason: `${endpoint}=${env[endpoint]}` }
    : { enabled: false, reason: 'no OTEL_*_EXPORTER or OTLP endpoint set' };
}

/** A started (or skipped) OpenTelemetry SDK. */
export interface OpenTelemetryHandle extends OpenTelemetryDecision {
  /** Flushes pending spans and stops the SDK; a no-op when it was not started. */
  shutdown(): Promise<void>;
}

/** Options of {@link startOpenTelemetry}. */
export interface StartOpenTelemetryOptions {
  /** The environment that decides (the SDK itself reads the standard variables from process.env). */
  env: Env;
  /** service.name when OTEL_SERVICE_NAME is not set. */
  serviceName?: string;
  /** Span processors to use instead of the exporters named by OTEL_TRACES_EXPORTER (tests). */
  spanProcessors?: SpanProcessor[];
}

/**
 * Starts the OpenTelemetry Node SDK when the OTEL_* variables ask for it: tracer (and meter) providers
 * with the exporters, sampler, resource and W3C trace-context propagator those variables configure.
 * The SDK is loaded only then, so a process without OpenTelemetry pays nothing for it.
 */
export async function startOpenTelemetry(opts: StartOpenTelemetryOptions): Promise<OpenTelemetryHandle> {
  const decision = opts.spanProcessors
    ? { enabled: true, reason: 'span processors given' }
    : openTelemetryRequested(opts.env);
  if (!decision.enabled) return { ...decision, shutdown: async () => {} };
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    ...(opts.env.OTEL_SERVICE_NAME ? {} : { serviceName: opts.serviceName ?? 'wardwatch' }),
    ...(opts.spanProcessors ? { spanProcessors: opts.spanProcessors } : {}),
    // Spans come from Wardwatch's own code (collector publish, analytics consume); no monkey-patching.
    instrumentations: [],
  });
  sdk.start();
  let stopped = false;
  return {
    ...decision,
    async shutdown() {
      if (stopped) return;
      stopped = true;
      await sdk.shutdown();
    },
  };
}
