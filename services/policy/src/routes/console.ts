import { Type as T } from '@sinclair/typebox';
import { loadConsoleAssets } from '@wardwatch/console';
import { withTransaction } from '@wardwatch/storage';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { audit, readAudit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { readProfile } from '../device-behaviour.ts';
import { ApiError, notFound } from '../errors.ts';
import { judge, loadEvaluationContext, POLICY_COLUMNS, toPolicy } from '../policy-model.ts';
import { iso, Where } from '../query.ts';
import { AuditRecord, IdParams, IpParams, Nullable, responses, UuidParams } from '../schemas.ts';
import type { SessionStore } from '../session.ts';
import { requireIp } from './devices.ts';

const SessionView = T.Object({
  name: T.String(),
  role: T.String(),
  keyId: T.String(),
  expiresAt: Nullable(T.String({ format: 'date-time' })),
  csrfToken: Nullable(T.String({ description: 'Send as X-CSRF-Token on state-changing requests' })),
});

const Count = T.Object({ name: T.String(), n: T.Integer() });
const Overview = T.Object({
  devices: T.Object({
    total: T.Integer(),
    quarantined: T.Integer(),
    newLast24h: T.Integer({ description: 'First seen in the last 24 hours' }),
    byClass: T.Array(Count),
    byRisk: T.Array(Count, { description: 'Bands: low 0-24, medium 25-49, high 50-74, critical 75-100' }),
  }),
  alerts: T.Object({
    open: T.Integer({ description: 'Not resolved (open or acknowledged)' }),
    openBySeverity: T.Array(Count),
  }),
  ingest: T.Object({
    exporters: T.Integer(),
    recordsPerSecond: T.Number({ description: 'Sum over exporters' }),
  }),
});

const TrafficQuery = T.Object({
  minutes: T.Integer({ minimum: 1, maximum: 10080, default: 60, description: 'Window length' }),
});
const TrafficPoint = T.Object({
  minute: T.String({ format: 'date-time' }),
  bytesOut: T.Integer(),
  bytesIn: T.Integer(),
  packetsOut: T.Integer(),
  packetsIn: T.Integer(),
  flows: T.Integer(),
  extBytesOut: T.Integer({ description: 'Bytes sent outside the monitored networks' }),
});
const Traffic = T.Object({
  deviceIp: T.String(),
  bucketMinutes: T.Integer({
    description: 'Width of a baseline bucket (analytics.baselineBucket), in minutes',
  }),
  minutes: T.Integer(),
  to: Nullable(T.String({ format: 'date-time', description: "The device's newest minute (flow time)" })),
  items: T.Array(TrafficPoint),
});

/** The console: its files at `/`, sign-in sessions, and the summaries its pages need. */
export function consoleRoutes(app: App, ctx: RouteContext, sessions: SessionStore): void {
  const { db, verifier } = ctx;
  const assets = loadConsoleAssets();
  // Durations in the loaded configuration are milliseconds (packages/config), at least a minute here.
  const bucketMinutes = Math.max(1, Math.round(ctx.config.analytics.baselineBucket / 60_000));

  const serve = (name: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const a = assets?.get(name);
    if (!a) {
      reply.status(503).header('content-type', 'text/plain; charset=utf-8');
      return 'The console is not built: run `pnpm install` (it builds packages/console).\n';
    }
    reply.header('cache-control', 'no-cache').header('etag', a.etag).header('content-type', a.type);
    if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
    return reply.send(a.body);
  };
  app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, serve('index.html'));
  app.get(
    '/assets/:file',
    { config: { auth: 'public' }, schema: { hide: true, params: T.Object({ file: T.String() }) } },
    async (req, reply) => {
      if (!assets?.has(req.params.file) || req.params.file === 'index.html')
        return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such file' } });
      return serve(req.params.file)(req, reply);
    },
  );

  const tags = ['session'];
  app.post(
    '/v1/session',
    {
      config: { auth: 'public' },
      schema: {
        summary:
          'Sign in to the console: exchange an API key for a session cookie (HttpOnly, SameSite=Strict)',
        description: `The session lasts 12 hours at most, never past the key's expiry, and acts with the key's role.`,
        tags,
        body: T.Object(
          { apiKey: T.String({ minLength: 1, maxLength: 512 }) },
          { additionalProperties: false },
        ),
        response: responses({ 201: SessionView }),
      },
    },
    async (req, reply) => {
      const principal = await verifier.verify(req.body.apiKey);
      if (!principal) {
        req.log.warn({ ip: req.ip }, 'console sign-in refused: unknown, expired or revoked API key');
        throw new ApiError(401, 'UNAUTHENTICATED', 'unknown, expired or revoked API key');
      }
      // A firewall's key reads the feeds and nothing else: a console session with it could show nothing.
      if (principal.role === 'feeds') {
        req.log.warn({ ip: req.ip, keyId: principal.keyId }, 'console sign-in refused: a feeds key');
        throw new ApiError(403, 'FORBIDDEN', 'a feeds key reads the firewall feeds only; it cannot sign in');
      }
      const s = await sessions.open(req, reply, principal);
      req.log.info({ ip: req.ip, keyId: principal.keyId, role: principal.role }, 'console sign-in');
      return reply.status(201).send({
        name: principal.name,
        role: principal.role,
        keyId: principal.keyId,
        expiresAt: s.expiresAt.toISOString(),
        csrfToken: s.csrfToken,
      });
    },
  );

  app.get(
    '/v1/session',
    {
      // Public so that a signed-out console can ask without an error: 204 when the cookie names no live session.
      config: { auth: 'public' },
      schema: {
        summary: "The console session of this request's cookie, with its CSRF token; 204 when signed out",
        tags,
        response: { 200: SessionView, 204: T.Null({ description: 'No live session' }), 500: T.Ref('Error') },
      },
    },
    async (req, reply) => {
      const s = await sessions.find(req);
      if (!s) return reply.status(204).send(null);
      return {
        name: s.principal.name,
        role: s.principal.role,
        keyId: s.principal.keyId,
        expiresAt: s.expiresAt.toISOString(),
        csrfToken: s.csrfToken,
      };
    },
  );

  app.delete(
    '/v1/session',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Sign out: ends the session server-side and clears the cookie',
        tags,
        response: responses({ 200: T.Object({ signedOut: T.Boolean() }) }),
      },
    },
    async (req, reply) => ({ signedOut: await sessions.close(req, reply) }),
  );

  app.get(
    '/v1/overview',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Counts for the overview: devices by class and risk, new devices, open alerts, ingest',
        tags: ['devices'],
        response: responses({ 200: Overview }),
      },
    },
    async () => {
      // Two passes over devices (the figures, then the classes) and one over unresolved alerts.
      const { rows } = await db.pool.query<{ overview: string }>(
        `WITH d AS (
           SELECT count(*)::int AS total,
                  count(*) FILTER (WHERE quarantined)::int AS quarantined,
                  count(*) FILTER (WHERE first_seen > now() - interval '24 hours')::int AS new24,
                  count(*) FILTER (WHERE risk < 25)::int AS low,
                  count(*) FILTER (WHERE risk BETWEEN 25 AND 49)::int AS medium,
                  count(*) FILTER (WHERE risk BETWEEN 50 AND 74)::int AS high,
                  count(*) FILTER (WHERE risk >= 75)::int AS critical
           FROM devices),
         a AS (
           SELECT count(*)::int AS open,
                  count(*) FILTER (WHERE severity = 'critical')::int AS critical,
                  count(*) FILTER (WHERE severity = 'high')::int AS high,
                  count(*) FILTER (WHERE severity = 'medium')::int AS medium,
                  count(*) FILTER (WHERE severity = 'low')::int AS low,
                  count(*) FILTER (WHERE severity = 'info')::int AS info
           FROM alerts WHERE status <> 'resolved')
         SELECT json_build_object(
           'devices', json_build_object(
             'total', d.total, 'quarantined', d.quarantined, 'newLast24h', d.new24,
             'byClass', (SELECT COALESCE(json_agg(json_build_object('name', c, 'n', n) ORDER BY n DESC, c), '[]')
                         FROM (SELECT COALESCE(class_override, class) AS c, count(*)::int AS n FROM devices GROUP BY 1) x),
             'byRisk', json_build_array(
               json_build_object('name', 'low', 'n', d.low), json_build_object('name', 'medium', 'n', d.medium),
               json_build_object('name', 'high', 'n', d.high), json_build_object('name', 'critical', 'n', d.critical))),
           'alerts', json_build_object(
             'open', a.open,
             'openBySeverity', json_build_array(
               json_build_object('name', 'critical', 'n', a.critical), json_build_object('name', 'high', 'n', a.high),
               json_build_object('name', 'medium', 'n', a.medium), json_build_object('name', 'low', 'n', a.low),
               json_build_object('name', 'info', 'n', a.info))),
           'ingest', json_build_object(
             'exporters', (SELECT count(*)::int FROM exporters),
             'recordsPerSecond', (SELECT COALESCE(sum(records_per_second), 0)::float8 FROM exporters))
         )::text AS overview
         FROM d, a`,
      );
      return JSON.parse(rows[0]!.overview);
    },
  );

  app.get(
    '/v1/devices/:ip/traffic',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: "A device's traffic per minute (flow time), the window ending at its newest minute",
        tags: ['devices'],
        params: IpParams,
        querystring: TrafficQuery,
        response: responses({ 200: Traffic }),
      },
    },
    async (req) => {
      const ip = requireIp(req.params.ip);
      const { rows } = await db.pool.query<{
        minute: Date;
        bytes_out: string;
        bytes_in: string;
        packets_out: string;
        packets_in: string;
        flows: string;
        ext_bytes_out: string;
      }>(
        `SELECT minute, bytes_out, bytes_in, packets_out, packets_in, flows, ext_bytes_out
         FROM device_rollups_minute
         WHERE device_ip = $1::inet
           AND minute > (SELECT max(minute) FROM device_rollups_minute WHERE device_ip = $1::inet) - make_interval(mins => $2)
         ORDER BY minute`,
        [ip, req.query.minutes],
      );
      return {
        deviceIp: ip,
        bucketMinutes,
        minutes: req.query.minutes,
        to: iso(rows.at(-1)?.minute),
        items: rows.map((r) => ({
          minute: r.minute.toISOString(),
          bytesOut: Number(r.bytes_out),
          bytesIn: Number(r.bytes_in),
          packetsOut: Number(r.packets_out),
          packetsIn: Number(r.packets_in),
          flows: Number(r.flows),
          extBytesOut: Number(r.ext_bytes_out),
        })),
      };
    },
  );

  app.get(
    '/v1/devices/:ip/audit',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'The audit trail of one device (analyst fields, quarantine, release), newest first',
        tags: ['devices'],
        params: IpParams,
        response: responses({ 200: T.Object({ items: T.Array(AuditRecord) }) }),
      },
    },
    async (req) => {
      const ip = requireIp(req.params.ip);
      const where = new Where().add("target_type = 'device'").add('target_id = $?', ip);
      return { items: await readAudit(db.pool, where, 200) };
    },
  );

  app.get(
    '/v1/policies/:id/violations',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Dry run: which devices would violate this policy, judged on their recent behaviour',
        description:
          "The devices the policy is assigned to (directly, or by class when the device has no assignment of its own; up to 500), each device's behaviour profile entries active in the last `hours` of its flows judged against the policy's rules, whether or not the policy is enabled. Changes nothing.",
        tags: ['policies'],
        params: IdParams,
        querystring: T.Object({ hours: T.Integer({ minimum: 1, maximum: 720, default: 24 }) }),
        response: responses({
          200: T.Object({
            policy: T.Object({ id: T.Integer(), name: T.String(), enabled: T.Boolean() }),
            hours: T.Integer(),
            devicesChecked: T.Integer(),
            violating: T.Array(
              T.Object({
                deviceIp: T.String(),
                entries: T.Integer({ description: 'Profile entries the policy would not allow' }),
                examples: T.Array(
                  T.Object({
                    peer: T.String(),
                    servicePort: T.Integer(),
                    protocol: T.Integer(),
                    direction: T.String(),
                    reason: T.String(),
                  }),
                ),
              }),
            ),
          }),
        }),
      },
    },
    async (req) => {
      const { rows: p } = await db.pool.query(`SELECT ${POLICY_COLUMNS} FROM policies WHERE id = $1`, [
        req.params.id,
      ]);
      if (!p[0]) throw notFound('POLICY_NOT_FOUND', `no policy ${req.params.id}`);
      const policy = toPolicy(p[0]);
      const { rows: devices } = await db.pool.query<{ ip: string; last_seen: Date }>(
        `SELECT host(d.ip) AS ip, d.last_seen FROM devices d
         WHERE d.ip IN (SELECT device_ip FROM policy_assignments WHERE policy_id = $1 AND device_ip IS NOT NULL)
            OR (COALESCE(d.class_override, d.class) IN
                  (SELECT device_class FROM policy_assignments WHERE policy_id = $1 AND device_class IS NOT NULL)
                AND NOT EXISTS (SELECT 1 FROM policy_assignments pa WHERE pa.device_ip = d.ip))
         ORDER BY d.ip LIMIT 500`,
        [policy.id],
      );
      const hours = req.query.hours;
      const violating = [];
      for (const d of devices) {
        const entries =
          (await readProfile(db.pool, d.ip, new Date(d.last_seen.getTime() - hours * 3_600_000))) ?? [];
        const evalCtx = await loadEvaluationContext(db.pool, entries);
        const bad = entries.flatMap((e) => {
          const v = judge(policy, e, evalCtx);
          return v.allowed
            ? []
            : [
                {
                  peer: e.peer,
                  servicePort: e.servicePort,
                  protocol: e.protocol,
                  direction: e.direction,
                  reason: v.reason,
                },
              ];
        });
        if (bad.length > 0)
          violating.push({ deviceIp: d.ip, entries: bad.length, examples: bad.slice(0, 5) });
      }
      return {
        policy: { id: policy.id, name: policy.name, enabled: policy.enabled },
        hours,
        devicesChecked: devices.length,
        violating,
      };
    },
  );

  // Lives here rather than with the webhook routes because the console's Admin page is its one caller.
  app.post(
    '/v1/webhooks/:id/test',
    {
      config: { auth: 'admin' },
      schema: {
        summary:
          'Send a test event (`webhook.test`) to one subscription now, through the normal delivery path',
        description:
          'Queues one signed delivery of a `webhook.test` event to this webhook (enabled or not); its outcome is in the delivery log.',
        tags: ['webhooks'],
        params: UuidParams,
        response: responses({ 202: T.Object({ deliveryId: T.Integer(), eventId: T.Integer() }) }),
      },
    },
    async (req, reply) => {
      const out = await withTransaction(db.pool, async (client) => {
        const w = await client.query<{ id: string }>('SELECT id FROM webhooks WHERE id = $1', [
          req.params.id,
        ]);
        if (!w.rows[0]) throw notFound('WEBHOOK_NOT_FOUND', `no webhook ${req.params.id}`);
        // No subscription lists webhook.test, so the fan-out trigger adds no other delivery.
        const e = await client.query<{ id: number }>(
          `INSERT INTO events (type, payload) VALUES ('webhook.test', $1) RETURNING id`,
          [JSON.stringify({ webhookId: req.params.id, sentBy: req.principal?.name ?? 'unknown' })],
        );
        const eventId = e.rows[0]!.id;
        const d = await client.query<{ id: number }>(
          'INSERT INTO webhook_deliveries (webhook_id, event_id) VALUES ($1, $2) RETURNING id',
          [req.params.id, eventId],
        );
        await audit(client, req, {
          action: 'webhook.test',
          targetType: 'webhook',
          targetId: req.params.id,
          after: { eventId, deliveryId: d.rows[0]!.id },
        });
        return { deliveryId: d.rows[0]!.id, eventId };
      });
      return reply.status(202).send(out);
    },
  );
}
