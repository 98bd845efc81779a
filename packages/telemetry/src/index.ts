// Telemetry: JSON logs (pino) with trace and request ids, Prometheus metrics (prom-client), and
// OpenTelemetry: an opt-in SDK bootstrap (standard OTEL_* variables) and trace context in Kafka headers.
export { createLogger, createRateLimitedLog, type Logger, type LoggerOptions } from './logger.ts';
export { Counter, createMetricsRegistry, Gauge, Histogram, Registry } from './metrics.ts';
export { type OpsHandlers, startOpsServer } from './ops-server.ts';
export {
  type OpenTelemetryDecision,
  type OpenTelemetryHandle,
  openTelemetryRequested,
  type StartOpenTelemetryOptions,
  startOpenTelemetry,
} from './otel.ts';
export { REQUEST_ID_HEADER, requestIdFor } from './request-id.ts';
export {
  activeTraceIds,
  type Context,
  extractTraceContext,
  getTracer,
  injectTraceContext,
  linksFromHeaders,
  type MessageWithHeaders,
  type Span,
  SpanKind,
  TRACER_NAME,
  traceConsume,
  tracePublish,
  type WithSpanOptions,
  withSpan,
} from './trace.ts';
