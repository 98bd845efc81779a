// The policy service: the SOC's REST API (fastify) over the inventory in PostgreSQL.
import type { WardwatchConfig } from '@wardwatch/config';
import type { Database } from '@wardwatch/storage';
import type { Logger, Registry } from '@wardwatch/telemetry';
import type { FastifyInstance } from 'fastify';
import { createApiKey } from './api-keys.ts';
import { buildApp } from './app.ts';

export { countLiveApiKeys, createApiKey, hashApiKey, ROLES, type Role } from './api-keys.ts';
export { buildApp, type PolicyAppDeps } from './app.ts';

/** What the policy service needs from its assembly. */
export interface PolicyDeps {
  config: WardwatchConfig;
  db: Database;
  logger: Logger;
  registry: Registry;
  readiness?: Record<string, () => Promise<boolean>>;
}

/** A running policy service. */
export interface PolicyService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound API address, e.g. http://127.0.0.1:8080. */
  url(): string;
  app(): FastifyInstance;
}

/** Creates the policy service; it listens on `start()`. */
export function createPolicyService(deps: PolicyDeps): PolicyService {
  let app: FastifyInstance | undefined;
  let url = '';
  return {
    async start() {
      if (deps.config.api.bootstrapApiKey) {
        await createApiKey(deps.db.pool, {
          name: 'bootstrap',
          role: 'admin',
          key: deps.config.api.bootstrapApiKey,
        });
      }
      app = await buildApp(deps);
      url = await app.listen({ host: deps.config.api.host, port: deps.config.api.port });
      const port = (app.server.address() as { port: number }).port;
      url = `http://${deps.config.api.host === '0.0.0.0' ? '127.0.0.1' : deps.config.api.host}:${port}`;
      deps.logger.info({ url }, 'REST API listening');
    },
    async stop() {
      await app?.close();
    },
    url: () => url,
    app: () => {
      if (!app) throw new Error('policy service not started');
      return app;
    },
  };
}
