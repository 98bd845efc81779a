// The policy service: the SOC's REST API (fastify) over the inventory in PostgreSQL, with enforcement
// hooks: quarantine, webhooks from a PostgreSQL outbox, firewall feeds and CEF to a SIEM.
import type { Server as TlsServer } from 'node:tls';
import { ConfigError, type WardwatchConfig } from '@wardwatch/config';
import type { Database } from '@wardwatch/storage';
import type { Logger, Registry } from '@wardwatch/telemetry';
import type { Transport } from '@wardwatch/transport';
import type { FastifyInstance } from 'fastify';
import { createKeyVerifier, ensureBootstrapKey } from './api-keys.ts';
import { buildApp } from './app.ts';
import { pruneAudit } from './audit.ts';
import { pruneEvents, releaseExpired } from './enforcement.ts';
import { enforceRequests } from './enforcer.ts';
import { createExporterRegistry } from './exporter-registry.ts';
import { createPolicyMetrics } from './metrics.ts';
import { createDispatcher } from './outbox/dispatcher.ts';
import { createSecretBox, dataDirSecretKey, resealWebhookSecrets } from './outbox/secrets.ts';
import { createSiemForwarder } from './outbox/siem.ts';
import { certificateFingerprint, resolveApiTransport, watchCertificate } from './tls.ts';
import { createTrustPublisher } from './trust-publisher.ts';

export { type MudFile, MudFileSchema, renderMud, validateMud } from '@wardwatch/policy-engine';
export {
  countLiveApiKeys,
  createApiKey,
  createApiKeyAudited,
  ROLES,
  type Role,
  revokeApiKeyAudited,
} from './api-keys.ts';
export { buildApp, type PolicyAppDeps, type RouteEntry } from './app.ts';
export { pruneEvents, quarantineAs, releaseAs } from './enforcement.ts';
export { decideRequest } from './enforcer.ts';
export { setTrust } from './exporter-trust.ts';
export { formatCef, syslogLine } from './outbox/cef.ts';
export { createSecretBox, type SecretBox } from './outbox/secrets.ts';
export { signWebhook, verifyWebhook } from './outbox/signing.ts';
export { createSessionStore, type SessionStore } from './session.ts';
export { certificateFingerprint, resolveApiTransport } from './tls.ts';

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
  /** The bound API address, e.g. https://127.0.0.1:8080 (http:// on loopback or with api.insecureHttp). */
  url(): string;
  /** SHA-256 fingerprint of the served certificate (HTTPS), for clients to pin. */
  fingerprint(): string | undefined;
  app(): FastifyInstance;
}

/**
 * The key that seals webhook secrets: configured, or in embedded mode generated into the data dir;
 * cluster mode requires one (secrets are never stored in plaintext).
 */
function webhookKey(config: WardwatchConfig): string {
  if (config.webhooks.secretKey) return config.webhooks.secretKey;
  if (config.mode === 'embedded') return dataDirSecretKey(config.dataDir);
  throw new ConfigError([
    '/webhooks/secretKey: required in cluster mode (set WARDWATCH_WEBHOOK_SECRET_KEY to 32+ random characters, the same in every policy instance)',
  ]);
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
  const secrets = createSecretBox(webhookKey(config), config.webhooks.previousSecretKeys);
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
          timeoutMs: config.siem.timeoutMs,
          ...(config.siem.caFile ? { caFile: config.siem.caFile } : {}),
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
        trustedCidrs: config.collector.exporterAllowlist,
      })
    : undefined;
  // Exporter trust reaches the collectors through the transport (services never import each other).
  const trustPublisher = deps.transport
    ? createTrustPublisher({ transport: deps.transport, pool: db.pool, logger })
    : undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  let sweeps = 0;
  let fingerprint: string | undefined;
  let unwatch = () => {};
  let enforcerTimer: NodeJS.Timeout | undefined;
  let enforcing: Promise<void> | undefined;
  const enforcement = {
    autoQuarantineExpiryMs: config.enforcement.autoQuarantineExpiryMs,
    maxAutoQuarantinesPerHour: config.enforcement.maxAutoQuarantinesPerHour,
    trustedCidrs: config.collector.exporterAllowlist,
  };

  // Analytics' quarantine requests, decided within a second (commit order: outbox/cursor.ts).
  const enforce = async () => {
    try {
      for (;;) {
        const decisions = await enforceRequests(db.pool, enforcement);
        for (const d of decisions) metrics.decisions.inc({ outcome: d.decision });
        metrics.enforced.inc(decisions.filter((d) => d.decision === 'quarantined').length);
        if (decisions.length === 0) break;
      }
    } catch (err) {
      logger.warn({ err }, 'enforcement round failed; retrying');
    }
  };

  // Every 5 s: expired quarantines; every 10 minutes: outbox events older than 30 days.
  const sweep = async () => {
    try {
      await releaseExpired(db.pool);
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
      const resealed = await resealWebhookSecrets(db.pool, secrets);
      if (resealed > 0)
        logger.info({ resealed }, 'webhook secrets sealed with the current webhooks.secretKey');
      const tls = await resolveApiTransport(config, logger);
      fingerprint = tls.fingerprint;
      app = await buildApp({
        ...deps,
        verifier: createKeyVerifier(db.pool, config.api.keyCacheMs),
        secrets,
        ...(tls.https ? { https: tls.https } : {}),
      });
      await app.listen({ host: config.api.host, port: config.api.port });
      if (tls.watch) {
        const server = app.server as unknown as TlsServer;
        unwatch = watchCertificate(
          tls.watch,
          (pair) => {
            server.setSecureContext({ ...pair, minVersion: 'TLSv1.2' });
            fingerprint = certificateFingerprint(pair.cert);
          },
          logger,
        );
      }
      const port = (app.server.address() as { port: number }).port;
      const host = config.api.host === '0.0.0.0' || config.api.host === '::' ? '127.0.0.1' : config.api.host;
      url = `${tls.https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
      dispatcher.start();
      siem?.start();
      await exporters?.start();
      await trustPublisher?.start();
      sweeper = setInterval(() => {
        sweeping ??= sweep().finally(() => (sweeping = undefined));
      }, 5000);
      enforcerTimer = setInterval(() => {
        enforcing ??= enforce().finally(() => (enforcing = undefined));
      }, config.enforcement.pollIntervalMs);
      logger.info(
        { url, siem: siemHost ? `${config.siem.protocol}://${siemHost}:${config.siem.port}` : 'off' },
        'REST API listening',
      );
    },
    async stop() {
      unwatch();
      if (sweeper) clearInterval(sweeper);
      if (enforcerTimer) clearInterval(enforcerTimer);
      await sweeping;
      await enforcing;
      await exporters?.stop();
      await trustPublisher?.stop();
      await dispatcher.stop();
      await siem?.stop();
      await app?.close();
    },
    url: () => url,
    fingerprint: () => fingerprint,
    app: () => {
      if (!app) throw new Error('policy service not started');
      return app;
    },
  };
}
