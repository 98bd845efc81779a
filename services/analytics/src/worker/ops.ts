import type { Server } from 'node:http';
import type { WardwatchConfig } from '@wardwatch/config';
import type { Database } from '@wardwatch/storage';
import { type Registry, startOpsServer } from '@wardwatch/telemetry';
import type { Transport } from '@wardwatch/transport';

// The worker's ops server (metrics, liveness, readiness), when `analytics.httpPort` is set.

/** Starts the ops server, or returns undefined when it is off (port 0). */
export async function startAnalyticsOps(
  config: WardwatchConfig,
  registry: Registry,
  db: Database,
  transport: Transport,
): Promise<Server | undefined> {
  if (config.analytics.httpPort <= 0) return undefined;
  return startOpsServer(config.analytics.httpHost, config.analytics.httpPort, {
    registry,
    notReady: async () => {
      if (!(await db.ping())) return 'database unreachable';
      if (!(await transport.ping())) return 'transport unreachable';
      return undefined;
    },
  });
}

/** Closes an ops server started by {@link startAnalyticsOps}. */
export function closeOps(ops: Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => (ops ? ops.close(() => resolve()) : resolve()));
}
