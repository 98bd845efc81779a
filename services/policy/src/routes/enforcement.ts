import { Type as T } from '@sinclair/typebox';
import { withTransaction } from '@wardwatch/storage';
import { audit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { readProfile } from '../device-behaviour.ts';
import { QUARANTINE_COLUMNS, quarantineDevice, releaseDevice, toQuarantine } from '../enforcement.ts';
import { decideRequest, REQUEST_COLUMNS, toRequest } from '../enforcer.ts';
import { badRequest, notFound } from '../errors.ts';
import { cidrWithin, isAddressOrCidr } from '../net.ts';
import { parseTime } from '../params.ts';
import { effectivePolicy, judge, loadEvaluationContext, policyInForceSql } from '../policy-model.ts';
import {
  DryRun,
  EnforcementDecision,
  IdParams,
  IpParams,
  Nullable,
  Quarantine,
  QuarantineDecisionInput,
  QuarantineInput,
  QuarantineRequest,
  ReleaseInput,
  responses,
} from '../schemas.ts';
import { requireIp } from './devices.ts';

const TEXT = T.String({ description: 'text/plain: one address or prefix per line' });

/** Enforcement routes: quarantine (with dry run) and release, history, firewall feeds (EDL). */
export function enforcementRoutes(app: App, ctx: RouteContext): void {
  const { db } = ctx;
  const tags = ['enforcement'];

  app.post(
    '/v1/devices/:ip/quarantine',
    {
      config: { auth: 'analyst' },
      schema: {
        summary:
          'Quarantine a device (reason, optional expiry); dryRun replays the last N hours against its policy',
        tags,
        params: IpParams,
        body: QuarantineInput,
        response: responses({ 201: Quarantine, 200: DryRun }),
      },
    },
    async (req, reply) => {
      const ip = requireIp(req.params.ip);
      const b = req.body;
      if (b.dryRun) {
        const hours = b.hours ?? 24;
        const dev = await db.pool.query<{ last_seen: Date }>(
          'SELECT last_seen FROM devices WHERE ip = $1::inet',
          [ip],
        );
        if (!dev.rows[0]) throw notFound('DEVICE_NOT_FOUND', `no device ${ip}`);
        // Flow time: the window ends at the device's latest flow.
        const since = new Date(dev.rows[0].last_seen.getTime() - hours * 3_600_000);
        const entries = await readProfile(db.pool, ip, since, 5000);
        const policy = await effectivePolicy(db.pool, ip);
        const evalCtx = await loadEvaluationContext(db.pool, entries ?? []);
        const wouldBlock: unknown[] = [];
        let wouldAllow = 0;
        for (const e of entries ?? []) {
          const verdict = policy
            ? judge(policy, e, evalCtx)
            : ({ allowed: false, reason: 'no-policy' } as const);
          if (verdict.allowed) wouldAllow++;
          else wouldBlock.push({ ...e, reason: verdict.reason });
        }
        return reply.status(200).send({
          dryRun: true,
          deviceIp: ip,
          hours,
          source: entries ? 'device_profiles' : 'none',
          limitation: entries
            ? 'Replays the behaviour profile (one entry per peer, service and direction, active in the window); ' +
              'flow and byte counts are the entry totals, not the window only.'
            : 'No behaviour profile table (analytics not migrated): nothing to replay.',
          policy: policy ? { id: policy.id, name: policy.name } : null,
          flowsConsidered: entries?.length ?? 0,
          wouldBlock,
          wouldAllow,
        });
      }
      let expiresAt: Date | null = null;
      // expiresAt null says "no expiry" explicitly, which contradicts a duration as much as a date does.
      if (b.expiresAt !== undefined && b.durationMinutes !== undefined)
        throw badRequest('AMBIGUOUS_EXPIRY', 'give expiresAt or durationMinutes, not both');
      if (b.expiresAt) expiresAt = parseTime(b.expiresAt, 'expiresAt');
      if (b.durationMinutes) expiresAt = new Date(Date.now() + b.durationMinutes * 60_000);
      if (expiresAt && expiresAt.getTime() <= Date.now())
        throw badRequest('EXPIRY_IN_PAST', 'expiresAt is in the past');
      const record = await withTransaction(
        db.pool,
        async (client) =>
          (await quarantineDevice(client, {
            ip,
            reason: b.reason,
            expiresAt,
            source: 'manual',
            actor: req,
          }))!,
      );
      return reply.status(201).send(record);
    },
  );

  app.post(
    '/v1/devices/:ip/release',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Release a quarantined device',
        tags,
        params: IpParams,
        body: ReleaseInput,
        response: responses({ 200: Quarantine }),
      },
    },
    async (req) => {
      const ip = requireIp(req.params.ip);
      return withTransaction(db.pool, async (client) => {
        const { before, after } = await releaseDevice(client, {
          ip,
          reason: req.body.reason,
          actor: req.principal?.name ?? 'unknown',
        });
        await audit(client, req, {
          action: 'device.release',
          targetType: 'device',
          targetId: ip,
          before,
          after,
        });
        return after;
      });
    },
  );

  app.get(
    '/v1/devices/:ip/quarantines',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Quarantine history of a device',
        tags,
        params: IpParams,
        response: responses({ 200: T.Object({ items: T.Array(Quarantine) }) }),
      },
    },
    async (req) => {
      const ip = requireIp(req.params.ip);
      const { rows } = await db.pool.query(
        `SELECT ${QUARANTINE_COLUMNS} FROM quarantines WHERE device_ip = $1::inet ORDER BY id DESC LIMIT 500`,
        [ip],
      );
      return { items: rows.map(toQuarantine) };
    },
  );

  app.get(
    '/v1/quarantines',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Active quarantines',
        tags,
        response: responses({ 200: T.Object({ items: T.Array(Quarantine) }) }),
      },
    },
    async () => {
      const { rows } = await db.pool.query(
        `SELECT ${QUARANTINE_COLUMNS} FROM quarantines WHERE released_at IS NULL ORDER BY id DESC`,
      );
      return { items: rows.map(toQuarantine) };
    },
  );

  app.get(
    '/v1/quarantine-requests',
    {
      config: { auth: 'viewer' },
      schema: {
        summary:
          'Quarantines waiting for a person: life-critical devices, and every policy quarantine while the circuit breaker is open',
        tags,
        querystring: T.Object(
          {
            status: T.Optional(T.Union([T.Literal('pending'), T.Literal('approved'), T.Literal('rejected')])),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: T.Object({ items: T.Array(QuarantineRequest) }) }),
      },
    },
    async (req) => {
      const { rows } = await db.pool.query(
        `SELECT ${REQUEST_COLUMNS} FROM quarantine_requests WHERE status = $1 ORDER BY id DESC LIMIT 500`,
        [req.query.status ?? 'pending'],
      );
      return { items: rows.map(toRequest) };
    },
  );

  app.post(
    '/v1/quarantine-requests/:id',
    {
      config: { auth: 'analyst' },
      schema: {
        summary:
          'Approve (quarantine the device now, through the one quarantine path) or reject a pending request, in one call',
        tags,
        params: IdParams,
        body: QuarantineDecisionInput,
        response: responses({
          200: T.Object({ request: QuarantineRequest, quarantine: Nullable(Quarantine) }),
        }),
      },
    },
    async (req) => {
      const b = req.body;
      const expiresAt = b.durationMinutes ? new Date(Date.now() + b.durationMinutes * 60_000) : null;
      return decideRequest(db.pool, {
        id: req.params.id,
        approve: b.decision === 'approve',
        note: b.reason,
        actor: req,
        expiresAt,
      });
    },
  );

  app.get(
    '/v1/enforcement/decisions',
    {
      config: { auth: 'viewer' },
      schema: {
        summary:
          "What the enforcer decided on analytics' quarantine requests (quarantined, requested, dry-run, untrusted, ...), newest first",
        tags,
        querystring: T.Object(
          {
            deviceIp: T.Optional(T.String({ maxLength: 64 })),
            outcome: T.Optional(T.String({ maxLength: 32 })),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: T.Object({ items: T.Array(EnforcementDecision) }) }),
      },
    },
    async (req) => {
      const ip = req.query.deviceIp === undefined ? null : requireIp(req.query.deviceIp);
      const { rows } = await db.pool.query<{
        id: string;
        at: Date;
        event_id: string;
        device_ip: string;
        policy_id: string | null;
        outcome: string;
        detail: Record<string, unknown>;
      }>(
        `SELECT id, at, event_id, host(device_ip) AS device_ip, policy_id, outcome, detail FROM enforcement_decisions
         WHERE ($1::inet IS NULL OR device_ip = $1::inet) AND ($2::text IS NULL OR outcome = $2)
         ORDER BY id DESC LIMIT 500`,
        [ip, req.query.outcome ?? null],
      );
      return {
        items: rows.map((r) => ({
          id: Number(r.id),
          at: r.at.toISOString(),
          eventId: Number(r.event_id),
          deviceIp: r.device_ip,
          policyId: r.policy_id === null ? null : Number(r.policy_id),
          outcome: r.outcome,
          detail: r.detail,
        })),
      };
    },
  );

  app.put(
    '/v1/devices/:ip/life-critical',
    {
      config: { auth: 'analyst' },
      schema: {
        summary:
          "Override whether a device is life-critical (never quarantined automatically); null returns to its class's flag",
        tags,
        params: IpParams,
        body: T.Object({ lifeCritical: Nullable(T.Boolean()) }, { additionalProperties: false }),
        response: responses({
          200: T.Object({ deviceIp: T.String(), override: Nullable(T.Boolean()), lifeCritical: T.Boolean() }),
        }),
      },
    },
    async (req) => {
      const ip = requireIp(req.params.ip);
      return withTransaction(db.pool, async (client) => {
        const cur = await client.query<{ life_critical: boolean | null }>(
          'SELECT life_critical FROM devices WHERE ip = $1::inet FOR UPDATE',
          [ip],
        );
        if (!cur.rows[0]) throw notFound('DEVICE_NOT_FOUND', `no device ${ip}`);
        const { rows } = await client.query<{ override: boolean | null; effective: boolean }>(
          `UPDATE devices d SET life_critical = $2, updated_at = now() WHERE ip = $1::inet
           RETURNING life_critical AS override, COALESCE(life_critical, EXISTS (SELECT 1 FROM life_critical_classes c
             WHERE c.class = COALESCE(d.class_override, d.class))) AS effective`,
          [ip, req.body.lifeCritical],
        );
        await audit(client, req, {
          action: 'device.life-critical',
          targetType: 'device',
          targetId: ip,
          before: { lifeCritical: cur.rows[0].life_critical },
          after: { lifeCritical: rows[0]!.override },
        });
        return { deviceIp: ip, override: rows[0]!.override, lifeCritical: rows[0]!.effective };
      });
    },
  );

  app.put(
    '/v1/policies/:id/dry-run',
    {
      config: { auth: 'admin' },
      schema: {
        summary:
          'Put a policy in dry run (its quarantine action is recorded in /v1/enforcement/decisions, not taken) or take it out',
        tags,
        params: IdParams,
        body: T.Object({ dryRun: T.Boolean() }, { additionalProperties: false }),
        response: responses({ 200: T.Object({ id: T.Integer(), dryRun: T.Boolean() }) }),
      },
    },
    async (req) => {
      return withTransaction(db.pool, async (client) => {
        const cur = await client.query<{ dry_run: boolean }>(
          'SELECT dry_run FROM policies WHERE id = $1 FOR UPDATE',
          [req.params.id],
        );
        if (!cur.rows[0]) throw notFound('POLICY_NOT_FOUND', `no policy ${req.params.id}`);
        await client.query('UPDATE policies SET dry_run = $2, updated_at = now() WHERE id = $1', [
          req.params.id,
          req.body.dryRun,
        ]);
        await audit(client, req, {
          action: 'policy.dry-run',
          targetType: 'policy',
          targetId: String(req.params.id),
          before: { dryRun: cur.rows[0].dry_run },
          after: { dryRun: req.body.dryRun },
        });
        return { id: req.params.id, dryRun: req.body.dryRun };
      });
    },
  );

  const sendList = (reply: { header(k: string, v: string): unknown }, lines: string[]) => {
    reply.header('content-type', 'text/plain; charset=utf-8');
    reply.header('cache-control', 'no-store');
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  };

  // External Dynamic Lists: bare addresses, one per line, no comments, as PAN-OS (EDL "IP List"),
  // FortiGate (external threat feed, IP address) and Check Point (Generic Data Center / IoC feed) read them.
  // Their rule is `feeds`: a firewall holds a feeds key, which reads these three routes and nothing else.
  app.get(
    '/v1/feeds/quarantined.txt',
    {
      config: { auth: 'feeds' },
      schema: {
        summary: 'EDL: quarantined device addresses',
        tags: ['feeds'],
        produces: ['text/plain'],
        response: responses({ 200: TEXT }),
      },
    },
    async (_req, reply) => {
      const { rows } = await db.pool.query<{ ip: string }>(
        'SELECT host(ip) AS ip FROM devices WHERE quarantined ORDER BY ip',
      );
      return sendList(
        reply,
        rows.map((r) => r.ip),
      );
    },
  );

  app.get(
    '/v1/feeds/policies/:id/devices.txt',
    {
      config: { auth: 'feeds' },
      schema: {
        summary: 'EDL: addresses of the devices the policy applies to (device and class assignments)',
        tags: ['feeds'],
        params: IdParams,
        produces: ['text/plain'],
        response: responses({ 200: TEXT }),
      },
    },
    async (req, reply) => {
      const p = await db.pool.query('SELECT 1 FROM policies WHERE id = $1', [req.params.id]);
      if (!p.rows[0]) throw notFound('POLICY_NOT_FOUND', `no policy ${req.params.id}`);
      // The devices for which this is the policy in force: an enabled device assignment wins over the
      // class's; a disabled policy is in force nowhere, so its list is empty.
      const { rows } = await db.pool.query<{ ip: string }>(
        `SELECT host(d.ip) AS ip FROM devices d
         WHERE (EXISTS (SELECT 1 FROM policy_assignments pa WHERE pa.policy_id = $1 AND pa.device_ip = d.ip)
            OR EXISTS (SELECT 1 FROM policy_assignments pa
                        WHERE pa.policy_id = $1 AND pa.device_class = COALESCE(d.class_override, d.class)))
           AND ${policyInForceSql('d.ip', 'COALESCE(d.class_override, d.class)', 'p.id')} = $1
         ORDER BY d.ip`,
        [req.params.id],
      );
      return sendList(
        reply,
        rows.map((r) => r.ip),
      );
    },
  );

  app.get(
    '/v1/feeds/policies/:id/allowed.txt',
    {
      config: { auth: 'feeds' },
      schema: {
        summary: 'EDL: the prefixes the policy allows its devices to reach (CIDR and server-group peers)',
        tags: ['feeds'],
        params: IdParams,
        produces: ['text/plain'],
        response: responses({ 200: TEXT }),
      },
    },
    async (req, reply) => {
      const p = await db.pool.query<{ rules: Array<{ peer: Record<string, unknown> }> }>(
        'SELECT rules FROM policies WHERE id = $1',
        [req.params.id],
      );
      if (!p.rows[0]) throw notFound('POLICY_NOT_FOUND', `no policy ${req.params.id}`);
      const out = new Set<string>();
      const groups = new Set<string>();
      for (const r of p.rows[0].rules) {
        // A rule stored before its CIDR was checked as strictly as now is left out rather than failing the feed.
        if (typeof r.peer.cidr === 'string' && isAddressOrCidr(r.peer.cidr)) out.add(r.peer.cidr);
        if (typeof r.peer.group === 'string') groups.add(r.peer.group);
      }
      if (groups.size > 0) {
        const g = await db.pool.query<{ cidrs: string[] }>(
          'SELECT cidrs::text[] AS cidrs FROM server_groups WHERE name = ANY($1)',
          [[...groups]],
        );
        for (const row of g.rows) for (const c of row.cidrs) out.add(c);
      }
      // One spelling per network (PostgreSQL's cidr: host bits cleared, IPv6 lower case and compressed),
      // so a network that rules and groups write differently is listed once.
      const canonical = await db.pool.query<{ c: string }>(
        'SELECT DISTINCT c::inet::cidr::text AS c FROM unnest($1::text[]) AS t(c)',
        [[...out]],
      );
      // Drop prefixes already inside another listed prefix.
      const all = canonical.rows.map((r) => r.c);
      const lines = all
        .filter((c) => !all.some((o) => o !== c && cidrWithin(c, [o]) && !cidrWithin(o, [c])))
        .sort();
      return sendList(reply, lines);
    },
  );
}
