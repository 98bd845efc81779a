// Telemetry: JSON logs (pino), Prometheus metrics (prom-client); OpenTelemetry comes through its API.
export { createLogger, createRateLimitedLog, type Logger } from './logger.ts';
export { Counter, createMetricsRegistry, Gauge, Histogram, Registry } from './metrics.ts';
