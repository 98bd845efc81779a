import { Type as T } from '@sinclair/typebox';
import { withTransaction } from '@wardwatch/storage';
import { audit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { readProfile } from '../device-behaviour.ts';
import { QUARANTINE_COLUMNS, quarantineDevice, releaseDevice, toQuarantine } from '../enforcement.ts';
import { badRequest, notFound } from '../errors.ts';
import { cidrWithin, isAddressOrCidr } from '../net.ts';
import { parseTime } from '../params.ts';
import { effectivePolicy, judge, loadEvaluationContext, policyInForceSql } from '../policy-model.ts';
import {
  DryRun,
  IdParams,
  IpParams,
  Quarantine,
  QuarantineInput,
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
      const record = await withTransaction(db.pool, async (client) => {
        const q = await quarantineDevice(client, {
          ip,
          reason: b.reason,
          expiresAt,
          source: 'manual',
          actor: req.principal?.name ?? 'unknown',
        });
        await audit(client, req, {
          action: 'device.quarantine',
          targetType: 'device',
          targetId: ip,
          before: null,
          after: q,
        });
        return q!;
      });
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

  const sendList = (reply: { header(k: string, v: string): unknown }, lines: string[]) => {
    reply.header('content-type', 'text/plain; charset=utf-8');
    reply.header('cache-control', 'no-store');
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  };

  // External Dynamic Lists: bare addresses, one per line, no comments, as PAN-OS (EDL "IP List"),
  // FortiGate (external threat feed, IP address) and Check Point (Generic Data Center / IoC feed) read them.
  app.get(
    '/v1/feeds/quarantined.txt',
    {
      config: { auth: 'viewer' },
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
      config: { auth: 'viewer' },
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
      config: { auth: 'viewer' },
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
