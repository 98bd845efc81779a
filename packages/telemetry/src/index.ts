// Telemetry: JSON logs (pino) with trace and request ids, Prometheus metrics (prom-client), and
// OpenTelemetry: an opt-in SDK bootstrap (standard OTEL_* variables, `register.ts`, loaded with
// --import) and trace context in Kafka headers.
export { createLogger, createRateLimitedLog, type Logger, type LoggerOptions } from './logger.ts';
export { Counter, createMetricsRegistry, Gauge, Histogram, Registry } from './metrics.ts';
export { type OpsHandlers, startOpsServer } from './ops-server.ts';
export { REQUEST_ID_HEADER, requestIdFor } from './request-id.ts';
export { getTracer, traceConsume, tracePublish } from './trace.ts';
