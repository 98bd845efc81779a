// Shared set-up for the policy API tests: a migrated schema of its own on the real PostgreSQL, the real
// policy service listening on a free loopback port, and API keys of every role.
import { loadConfig, type WardwatchConfig } from '@wardwatch/config';
import { createApiKey, createPolicyService, type PolicyService, ROLES, type Role } from '@wardwatch/policy';
import { type Database, migrate, openDatabase } from '@wardwatch/storage';
import { createLogger, createMetricsRegistry, type Registry } from '@wardwatch/telemetry';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '@wardwatch/testkit';
import type { Transport } from '@wardwatch/transport';

/** A running policy service over its own schema, with one key per role. */
export interface PolicyHarness {
  schema: string;
  db: Database;
  config: WardwatchConfig;
  service: PolicyService;
  /** The service's metrics. */
  registry: Registry;
  keys: Record<Role, string>;
  url: string;
  /** Calls the API as `role` (null: no key); JSON in and out. */
  call(
    method: string,
    path: string,
    opts?: { role?: Role | null; body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: unknown; text: string; headers: Headers }>;
  /** Stops the service (keeps the schema) and starts a new one over the same schema. */
  restart(overrides?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** Starts the harness; `overrides` are config paths (e.g. `'webhooks.backoffBaseMs': 50`). */
export async function startPolicyHarness(
  overrides: Record<string, unknown> = {},
  opts: { transport?: Transport } = {},
): Promise<PolicyHarness> {
  const schema = uniqueName('policy');
  const makeConfig = (extra: Record<string, unknown>) =>
    loadConfig({
      env: {},
      overrides: {
        mode: 'cluster',
        'database.url': TEST_DATABASE_URL,
        'database.schema': schema,
        'database.poolSize': 4,
        'api.host': '127.0.0.1',
        'api.port': 0,
        'api.rateLimitPerMinute': 100000,
        'webhooks.secretKey': 'test-webhook-secret-key-0123456789',
        logLevel: 'silent',
        ...overrides,
        ...extra,
      },
    });
  let config = makeConfig({});
  const db = await openDatabase({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 4 });
  await migrate(db);
  const keys = {} as Record<Role, string>;
  for (const role of ROLES) {
    keys[role] = (await createApiKey(db.pool, { name: `test-${role}`, role })).key;
  }
  const logger = createLogger({ level: 'silent' });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const make = () => createPolicyService({ config, db, logger, registry, transport: opts.transport });
  const h: PolicyHarness = {
    schema,
    db,
    config,
    service: make(),
    registry,
    keys,
    url: '',
    async call(method, path, opts = {}) {
      const role = opts.role === undefined ? 'admin' : opts.role;
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (role) headers.authorization = `Bearer ${keys[role]}`;
      let body: string | undefined;
      if (opts.raw !== undefined) body = opts.raw;
      else if (opts.body !== undefined) body = JSON.stringify(opts.body);
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(`${h.url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async restart(extra = {}) {
      await h.service.stop();
      config = makeConfig(extra);
      h.config = config;
      h.service = make();
      await h.service.start();
      h.url = h.service.url();
    },
    async close() {
      await h.service.stop();
      await db.close();
      await dropSchema(schema);
    },
  };
  await h.service.start();
  h.url = h.service.url();
  return h;
}

/** Inserts devices directly (as analytics would): ip, class, risk and optional analyst fields. */
export async function seedDevices(
  db: Database,
  devices: Array<{
    ip: string;
    class?: string;
    risk?: number;
    label?: string;
    lastSeen?: string;
    mac?: string;
  }>,
): Promise<void> {
  await db.pool.query(
    `INSERT INTO devices (ip, first_seen, last_seen, class, risk, label, mac, bytes_sent, flows_sent)
     SELECT ip::inet, COALESCE(ls::timestamptz, now()) - interval '1 day', COALESCE(ls::timestamptz, now()), cls, rk, lb,
            mc::macaddr, 1000, 10
     FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[]) AS t(ip, cls, rk, lb, ls, mc)`,
    [
      devices.map((d) => d.ip),
      devices.map((d) => d.class ?? 'unknown'),
      devices.map((d) => d.risk ?? 0),
      devices.map((d) => d.label ?? null),
      devices.map((d) => d.lastSeen ?? null),
      devices.map((d) => d.mac ?? null),
    ],
  );
}

/** Inserts an alert (as analytics would); returns its id. */
export async function seedAlert(
  db: Database,
  a: { deviceIp: string; kind: string; severity?: string; title?: string; evidence?: unknown },
): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO alerts (device_ip, kind, severity, title, evidence, first_seen, last_seen)
     VALUES ($1::inet, $2, $3, $4, $5, now(), now()) RETURNING id`,
    [
      a.deviceIp,
      a.kind,
      a.severity ?? 'high',
      a.title ?? `${a.kind} on ${a.deviceIp}`,
      JSON.stringify(a.evidence ?? {}),
    ],
  );
  return rows[0]!.id;
}

/**
 * Raises a quarantine request as analytics does (an `enforcement.requested` outbox event): the device,
 * the policy it was judged against, the exporters that reported the evidence.
 */
export async function seedEnforcementRequest(
  db: Database,
  r: { deviceIp: string; policyId: number; exporters: string[]; reason?: string },
): Promise<void> {
  await db.pool.query("INSERT INTO events (type, payload) VALUES ('enforcement.requested', $1)", [
    JSON.stringify({
      deviceIp: r.deviceIp,
      policyId: r.policyId,
      reason: r.reason ?? '1 flow(s) outside policy',
      exporters: r.exporters,
      evidence: { violations: [{ peer: '203.0.113.9/32', port: 443 }] },
    }),
  ]);
}
