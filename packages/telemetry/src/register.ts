// Preload for `node --import ./packages/telemetry/src/register.ts`: starts the OpenTelemetry SDK before
// the services load, when (and only when) the standard OTEL_* variables ask for it; flushes it at exit.
// This is an edge, like cli/src/main.ts: the one place here that reads process.env.
import { startOpenTelemetry } from './otel.ts';

const service = process.argv.includes('--service')
  ? process.argv[process.argv.indexOf('--service') + 1]
  : undefined;
const otel = await startOpenTelemetry({
  env: process.env,
  serviceName: service ? `wardwatch-${service.split(',')[0]}` : 'wardwatch',
});
if (otel.enabled) {
  // beforeExit fires once the event loop is empty (after the services stopped on SIGTERM/SIGINT).
  process.once('beforeExit', () => {
    void otel.shutdown();
  });
}
