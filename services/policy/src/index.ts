// The policy service: the SOC's REST API (fastify) over the inventory in PostgreSQL, with enforcement
// hooks: quarantine, webhooks from a PostgreSQL outbox, firewall feeds and CEF to a SIEM.
import type { WardwatchConfig } from '@wardwatch/config';
import type { Database } from '@wardwatch/storage';
import type { Logger, Registry } from '@wardwatch/telemetry';
import type { Transport } from '@wardwatch/transport';
import type { FastifyInstance } from 'fastify';
import { createKeyVerifier, ensureBootstrapKey } from './api-keys.ts';
import { buildApp } from './app.ts';
import { pruneAudit } from './audit.ts';
import { enforcePolicyViolations, pruneEvents, releaseExpired } from './enforcement.ts';
import { createExporterRegistry } from './exporter-registry.ts';
import { createPolicyMetrics } from './metrics.ts';
import { createDispatcher } from './outbox/dispatcher.ts';
import { createSecretBox } from './outbox/secrets.ts';
import { createSiemForwarder } from './outbox/siem.ts';

export { type MudFile, MudFileSchema, renderMud, validateMud } from '@wardwatch/policy-engine';
export {
  countLiveApiKeys,
  createApiKey,
  createApiKeyAudited,
  ensureBootstrapKey,
  hashApiKey,
  type Principal,
  ROLES,
  type Role,
  revokeApiKeyAudited,
  roleAllows,
} from './api-keys.ts';
export { buildApp, type PolicyAppDeps, type RouteEntry } from './app.ts';
export { pruneEvents } from './enforcement.ts';
export { parseCollector, renderExporterConfig, VENDORS } from './exporter-config.ts';
export { formatCef, syslogLine } from './outbox/cef.ts';
export { createSecretBox, type SecretBox } from './outbox/secrets.ts';
export { signWebhook, verifyWebhook } from './outbox/signing.ts';

/** What the policy service needs from its assembly. */
export interface PolicyDeps {
  config: WardwatchConfig;
  db: Database;
  logger: Logger;
  registry: Registry;
  readiness?: Record<string, () => Promise<boolean>>;
  /** When given, the `exporters` table follows the collectors' `exporters-v1` registry. */
  transport?: Transport;
}

/** A running policy service. */
export interface PolicyService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound API address, e.g. http://127.0.0.1:8080. */
  url(): string;
  app(): FastifyInstance;
}

/**
 * Creates the policy service; `start()` listens and starts the background loops: webhook dispatch,
 * the SIEM forwarder (when configured), quarantine expiry and policy-action enforcement.
 */
export function createPolicyService(deps: PolicyDeps): PolicyService {
  const { config, db, logger } = deps;
  let app: FastifyInstance | undefined;
  let url = '';
  const metrics = createPolicyMetrics(deps.registry);
  const secrets = createSecretBox(config.webhooks.secretKey);
  const dispatcher = createDispatcher({ pool: db.pool, secrets, logger, metrics, options: config.webhooks });
  const siemHost = config.siem.host;
  const siem = siemHost
    ? createSiemForwarder({
        pool: db.pool,
        logger,
        metrics,
        options: {
          host: siemHost,
          port: config.siem.port,
          protocol: config.siem.protocol,
          pollIntervalMs: config.siem.pollIntervalMs,
        },
      })
    : undefined;
  const exporters = deps.transport
    ? createExporterRegistry({
        transport: deps.transport,
        pool: db.pool,
        groupId: `${config.analytics.groupId}-policy-exporters`,
        logger,
      })
    : undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  let sweeps = 0;

  // Every 5 s: expired quarantines, policy actions; every 10 minutes: outbox events older than 30 days.
  const sweep = async () => {
    try {
      await releaseExpired(db.pool);
      metrics.enforced.inc(await enforcePolicyViolations(db.pool));
      if (sweeps++ % 120 === 0) {
        await pruneEvents(db.pool, 30);
        // Kept forever unless a retention is configured (regulations often ask for years).
        if (config.api.auditRetentionDays > 0) await pruneAudit(db.pool, config.api.auditRetentionDays);
      }
    } catch (err) {
      logger.warn({ err }, 'enforcement sweep failed');
    }
  };

  return {
    async start() {
      if (config.api.bootstrapApiKey) {
        const boot = await ensureBootstrapKey(db.pool, config.api.bootstrapApiKey);
        if (boot.retired.length > 0)
          logger.warn(
            { revoked: boot.retired },
            'WARDWATCH_BOOTSTRAP_API_KEY changed: the previous bootstrap key is revoked',
          );
        if (boot.status === 'revoked')
          logger.error(
            { id: boot.id },
            'the WARDWATCH_BOOTSTRAP_API_KEY key was revoked and stays revoked: set a new value to get a bootstrap key',
          );
      }
      if (!secrets.encrypting)
        logger.warn(
          'webhooks.secretKey is not set: webhook secrets are stored as given (set WARDWATCH_WEBHOOK_SECRET_KEY)',
        );
      app = await buildApp({
        ...deps,
        verifier: createKeyVerifier(db.pool, config.api.keyCacheMs),
        secrets,
      });
      await app.listen({ host: config.api.host, port: config.api.port });
      const port = (app.server.address() as { port: number }).port;
      const host = config.api.host === '0.0.0.0' || config.api.host === '::' ? '127.0.0.1' : config.api.host;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      dispatcher.start();
      siem?.start();
      await exporters?.start();
      sweeper = setInterval(() => {
        sweeping ??= sweep().finally(() => (sweeping = undefined));
      }, 5000);
      logger.info(
        { url, siem: siemHost ? `${config.siem.protocol}://${siemHost}:${config.siem.port}` : 'off' },
        'REST API listening',
      );
    },
    async stop() {
      if (sweeper) clearInterval(sweeper);
      await sweeping;
      await exporters?.stop();
      await dispatcher.stop();
      await siem?.stop();
      await app?.close();
    },
    url: () => url,
    app: () => {
      if (!app) throw new Error('policy service not started');
      return app;
    },
  };
}
