import { isIP } from 'node:net';
import { Type as T } from '@sinclair/typebox';
import { renderMud } from '@wardwatch/policy-engine';
import { withTransaction } from '@wardwatch/storage';
import type pg from 'pg';
import { audit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { ApiError, badRequest, notFound } from '../errors.ts';
import { readProfile } from '../model.ts';
import { isAddressOrCidr } from '../net.ts';
import {
  checkRules,
  disabledAssignments,
  draftPolicy,
  effectivePolicy,
  loadEvaluationContext,
  POLICY_COLUMNS,
  type PolicyRecord,
  toPolicy,
} from '../policy-model.ts';
import {
  AssignmentInput,
  Assignment as AssignmentSchema,
  IdParams,
  IpParams,
  LearnInput,
  Nullable,
  PolicyInput,
  PolicyList,
  PolicyPatch,
  type Rule,
  responses,
  ServerGroup,
  ServerGroupInput,
  ServerGroupParams,
} from '../schemas.ts';
import { requireIp } from './devices.ts';

interface AssignmentRow {
  id: number;
  policy_id: number;
  device_ip: string | null;
  device_class: string | null;
}
const toAssignment = (r: AssignmentRow) => ({
  id: r.id,
  policyId: r.policy_id,
  deviceIp: r.device_ip,
  deviceClass: r.device_class,
});

async function loadPolicy(db: pg.Pool | pg.PoolClient, id: number, lock = false) {
  const { rows } = await db.query(
    `SELECT ${POLICY_COLUMNS} FROM policies WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  if (!rows[0]) throw notFound('POLICY_NOT_FOUND', `no policy ${id}`);
  const a = await db.query<AssignmentRow>(
    'SELECT id, policy_id, host(device_ip) AS device_ip, device_class FROM policy_assignments WHERE policy_id = $1 ORDER BY id',
    [id],
  );
  return { ...toPolicy(rows[0]), assignments: a.rows.map(toAssignment) };
}

async function requireValidRules(db: pg.Pool | pg.PoolClient, rules: PolicyRecord['rules']): Promise<void> {
  const problems = await checkRules(db, rules);
  if (problems.length > 0) throw badRequest('BAD_RULES', problems.join('; '));
}

/** Policy routes: CRUD, assignments, server groups, learning a draft, MUD rendering. */
export function policyRoutes(app: App, ctx: RouteContext): void {
  const { db } = ctx;
  const tags = ['policies'];

  app.get(
    '/v1/policies',
    {
      config: { auth: 'viewer' },
      schema: { summary: 'List policies', tags, response: responses({ 200: PolicyList }) },
    },
    async () => {
      const { rows } = await db.pool.query(`SELECT ${POLICY_COLUMNS} FROM policies ORDER BY id`);
      const a = await db.pool.query<AssignmentRow>(
        'SELECT id, policy_id, host(device_ip) AS device_ip, device_class FROM policy_assignments ORDER BY id',
      );
      return {
        items: rows.map((r) => ({
          ...toPolicy(r),
          assignments: a.rows.filter((x) => x.policy_id === r.id).map(toAssignment),
        })),
      };
    },
  );

  app.post(
    '/v1/policies',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Create a policy',
        tags,
        body: PolicyInput,
        response: responses({ 201: T.Ref('Policy') }),
      },
    },
    async (req, reply) => {
      const b = req.body;
      const created = await withTransaction(db.pool, async (client) => {
        await requireValidRules(client, b.rules);
        const { rows } = await client.query<{ id: number }>(
          `INSERT INTO policies (name, description, rules, internal_only, action, enabled)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [
            b.name,
            b.description ?? '',
            JSON.stringify(b.rules),
            b.internalOnly ?? false,
            b.action ?? 'alert',
            b.enabled ?? true,
          ],
        );
        const p = await loadPolicy(client, rows[0]!.id);
        await audit(client, req, {
          action: 'policy.create',
          targetType: 'policy',
          targetId: String(p.id),
          after: p,
        });
        return p;
      });
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/v1/policies/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'One policy',
        tags,
        params: IdParams,
        response: responses({ 200: T.Ref('Policy') }),
      },
    },
    async (req) => loadPolicy(db.pool, req.params.id),
  );

  app.patch(
    '/v1/policies/:id',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Change a policy',
        tags,
        params: IdParams,
        body: PolicyPatch,
        response: responses({ 200: T.Ref('Policy') }),
      },
    },
    async (req) =>
      withTransaction(db.pool, async (client) => {
        const before = await loadPolicy(client, req.params.id, true);
        const b = req.body;
        if (b.rules) await requireValidRules(client, b.rules);
        await client.query(
          `UPDATE policies SET name = COALESCE($2, name), description = COALESCE($3, description),
             rules = COALESCE($4::jsonb, rules), internal_only = COALESCE($5, internal_only),
             action = COALESCE($6, action), enabled = COALESCE($7, enabled), updated_at = now()
           WHERE id = $1`,
          [
            req.params.id,
            b.name ?? null,
            b.description ?? null,
            b.rules ? JSON.stringify(b.rules) : null,
            b.internalOnly ?? null,
            b.action ?? null,
            b.enabled ?? null,
          ],
        );
        const after = await loadPolicy(client, req.params.id);
        await audit(client, req, {
          action: 'policy.update',
          targetType: 'policy',
          targetId: String(after.id),
          before,
          after,
        });
        return after;
      }),
  );

  app.delete(
    '/v1/policies/:id',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Delete a policy and its assignments',
        tags,
        params: IdParams,
        response: responses({ 204: T.Null() }),
      },
    },
    async (req, reply) => {
      await withTransaction(db.pool, async (client) => {
        const before = await loadPolicy(client, req.params.id, true);
        await client.query('DELETE FROM policies WHERE id = $1', [req.params.id]);
        await audit(client, req, {
          action: 'policy.delete',
          targetType: 'policy',
          targetId: String(before.id),
          before,
        });
      });
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/policies/:id/assignments',
    {
      config: { auth: 'analyst' },
      schema: {
        summary:
          "Assign the policy to a device or to a device class (replaces that target's previous assignment)",
        tags,
        params: IdParams,
        body: AssignmentInput,
        response: responses({ 201: AssignmentSchema }),
      },
    },
    async (req, reply) => {
      const body = req.body as { deviceIp?: string; deviceClass?: string };
      if (body.deviceIp !== undefined) requireIp(body.deviceIp);
      const row = await withTransaction(db.pool, async (client) => {
        await loadPolicy(client, req.params.id);
        const target = body.deviceIp !== undefined ? 'device_ip' : 'device_class';
        const value = body.deviceIp ?? body.deviceClass!;
        const prev = await client.query<AssignmentRow>(
          `DELETE FROM policy_assignments WHERE ${target} = ${target === 'device_ip' ? '$1::inet' : '$1'}
           RETURNING id, policy_id, host(device_ip) AS device_ip, device_class`,
          [value],
        );
        const { rows } = await client.query<AssignmentRow>(
          `INSERT INTO policy_assignments (policy_id, device_ip, device_class) VALUES ($1, $2::inet, $3)
           RETURNING id, policy_id, host(device_ip) AS device_ip, device_class`,
          [req.params.id, body.deviceIp ?? null, body.deviceClass ?? null],
        );
        const a = toAssignment(rows[0]!);
        await audit(client, req, {
          action: 'policy.assign',
          targetType: 'policy',
          targetId: String(req.params.id),
          before: prev.rows[0] ? toAssignment(prev.rows[0]) : null,
          after: a,
        });
        return a;
      });
      return reply.status(201).send(row);
    },
  );

  app.delete(
    '/v1/policies/:id/assignments/:assignmentId',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Remove an assignment',
        tags,
        params: T.Object({ id: T.Integer({ minimum: 1 }), assignmentId: T.Integer({ minimum: 1 }) }),
        response: responses({ 204: T.Null() }),
      },
    },
    async (req, reply) => {
      await withTransaction(db.pool, async (client) => {
        const { rows } = await client.query<AssignmentRow>(
          `DELETE FROM policy_assignments WHERE id = $1 AND policy_id = $2
           RETURNING id, policy_id, host(device_ip) AS device_ip, device_class`,
          [req.params.assignmentId, req.params.id],
        );
        if (!rows[0])
          throw notFound(
            'ASSIGNMENT_NOT_FOUND',
            `no assignment ${req.params.assignmentId} of policy ${req.params.id}`,
          );
        await audit(client, req, {
          action: 'policy.unassign',
          targetType: 'policy',
          targetId: String(req.params.id),
          before: toAssignment(rows[0]),
        });
      });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/devices/:ip/policy',
    {
      config: { auth: 'viewer' },
      schema: {
        summary:
          'The policy in force for a device (enabled device assignment, else enabled class assignment), ' +
          'and the disabled policies assigned to it (shown, not enforced)',
        tags,
        params: IpParams,
        response: responses({
          200: T.Object({
            via: T.String(),
            policy: T.Ref('Policy'),
            disabled: T.Array(T.Object({ via: T.String(), id: T.Integer(), name: T.String() }), {
              description: 'Disabled policies assigned to the device or its class: not in force',
            }),
          }),
        }),
      },
    },
    async (req) => {
      const ip = requireIp(req.params.ip);
      const p = await effectivePolicy(db.pool, ip);
      const disabled = await disabledAssignments(db.pool, ip);
      if (!p) {
        const drafts = disabled.map((d) => `${d.name} (${d.via}, disabled)`).join(', ');
        throw notFound('NO_POLICY', `no policy in force for ${ip}${drafts ? `; assigned: ${drafts}` : ''}`);
      }
      return { via: p.via, policy: await loadPolicy(db.pool, p.id), disabled };
    },
  );

  app.post(
    '/v1/devices/:ip/policy/learn',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Draft a policy from the observed communication profile (optionally save and assign it)',
        tags,
        params: IpParams,
        body: T.Optional(LearnInput),
        response: responses({
          200: T.Object({
            draft: T.Unknown(),
            basis: T.Object({
              source: T.String(),
              entries: T.Integer(),
              since: Nullable(T.String()),
            }),
            saved: T.Union([T.Ref('Policy'), T.Null()]),
          }),
        }),
      },
    },
    async (req) => {
      const ip = requireIp(req.params.ip);
      const body = req.body ?? {};
      const dev = await db.pool.query<{ last_seen: Date; label: string | null }>(
        'SELECT last_seen, label FROM devices WHERE ip = $1::inet',
        [ip],
      );
      if (!dev.rows[0]) throw notFound('DEVICE_NOT_FOUND', `no device ${ip}`);
      // Flow time: the window ends at the device's latest flow, not at the wall clock.
      if (body.hours !== undefined && !Number.isSafeInteger(body.hours))
        throw badRequest('BAD_HOURS', 'hours must be an integer');
      const since = body.hours
        ? new Date(dev.rows[0].last_seen.getTime() - body.hours * 3_600_000)
        : undefined;
      const entries = await readProfile(db.pool, ip, since);
      const evalCtx = await loadEvaluationContext(db.pool, entries ?? []);
      const name = body.name ?? `learned-${ip}`;
      const draft = draftPolicy(name, entries ?? [], evalCtx);
      const basis = {
        source: entries ? 'device_profiles' : 'none (no behaviour profile table)',
        entries: entries?.length ?? 0,
        since: since?.toISOString() ?? null,
      };
      if (!body.save) return { draft, basis, saved: null };
      const saved = await withTransaction(db.pool, async (client) => {
        // Learning again (the profile grew) refreshes the device's draft of that name in place: the
        // policy assigned to this device under that name, or the default `learned-<ip>`, which is this
        // device's by construction. Its id, name, enabled and action stay; rules and description are
        // replaced. Any other policy of that name is someone else's and is not overwritten.
        const prev = await client.query<{ id: number }>(
          `SELECT p.id FROM policies p WHERE p.name = $1
             AND (p.name = $3 OR EXISTS (SELECT 1 FROM policy_assignments pa
                                         WHERE pa.policy_id = p.id AND pa.device_ip = $2::inet))
           FOR UPDATE`,
          [draft.name, ip, `learned-${ip}`],
        );
        let id: number;
        let before: Awaited<ReturnType<typeof loadPolicy>> | null = null;
        if (prev.rows[0]) {
          id = prev.rows[0].id;
          before = await loadPolicy(client, id);
          await client.query(
            `UPDATE policies SET description = $2, rules = $3, internal_only = $4, updated_at = now()
             WHERE id = $1`,
            [id, draft.description, JSON.stringify(draft.rules), draft.internalOnly],
          );
        } else {
          const taken = await client.query('SELECT 1 FROM policies WHERE name = $1', [draft.name]);
          if (taken.rows[0])
            throw new ApiError(
              409,
              'ALREADY_EXISTS',
              `a policy named ${JSON.stringify(draft.name)} exists and is not this device's draft; give another name`,
            );
          const { rows } = await client.query<{ id: number }>(
            `INSERT INTO policies (name, description, rules, internal_only, action, enabled)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
            [
              draft.name,
              draft.description,
              JSON.stringify(draft.rules),
              draft.internalOnly,
              draft.action,
              draft.enabled,
            ],
          );
          id = rows[0]!.id;
        }
        // The draft becomes the device's assignment (an assignment it already has is kept as it is).
        await client.query('DELETE FROM policy_assignments WHERE device_ip = $1::inet AND policy_id <> $2', [
          ip,
          id,
        ]);
        await client.query(
          `INSERT INTO policy_assignments (policy_id, device_ip) SELECT $1, $2::inet
           WHERE NOT EXISTS (SELECT 1 FROM policy_assignments WHERE device_ip = $2::inet)`,
          [id, ip],
        );
        const p = await loadPolicy(client, id);
        await audit(client, req, {
          action: 'policy.learn',
          targetType: 'policy',
          targetId: String(id),
          before,
          after: p,
        });
        return p;
      });
      return { draft, basis, saved };
    },
  );

  app.get(
    '/v1/devices/:ip/mud',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'The device policy as an RFC 8520 MUD file (source=learned renders the learned draft)',
        tags,
        params: IpParams,
        querystring: T.Object({ source: T.Optional(T.Union([T.Literal('policy'), T.Literal('learned')])) }),
        produces: ['application/mud+json'],
        response: responses({
          200: T.Unknown({ description: 'MUD file (ietf-mud:mud + ietf-access-control-list:acls)' }),
        }),
      },
    },
    async (req, reply) => {
      const ip = requireIp(req.params.ip);
      const dev = await db.pool.query<{ label: string | null; class: string; last_seen: Date }>(
        'SELECT label, COALESCE(class_override, class) AS class, last_seen FROM devices WHERE ip = $1::inet',
        [ip],
      );
      if (!dev.rows[0]) throw notFound('DEVICE_NOT_FOUND', `no device ${ip}`);
      let policy: Pick<PolicyRecord, 'id' | 'name' | 'rules' | 'updatedAt'> | undefined;
      if (req.query.source === 'learned') {
        const entries = (await readProfile(db.pool, ip)) ?? [];
        const d = draftPolicy(`learned-${ip}`, entries, await loadEvaluationContext(db.pool, entries));
        policy = {
          id: 0,
          name: d.name,
          rules: d.rules as Rule[],
          updatedAt: dev.rows[0].last_seen.toISOString(),
        };
      } else {
        policy = await effectivePolicy(db.pool, ip);
        if (!policy) throw notFound('NO_POLICY', `no policy applies to ${ip}; try source=learned`);
      }
      const host = (req.headers.host ?? 'wardwatch.invalid').replace(/[^A-Za-z0-9.:[\]-]/g, '');
      const mud = renderMud(policy!, {
        ip,
        systeminfo: `${dev.rows[0].label ?? dev.rows[0].class} ${ip}`,
        mudUrl: `https://${host}/v1/devices/${encodeURIComponent(ip)}/mud`,
      });
      reply.header('content-type', 'application/mud+json');
      return mud;
    },
  );

  app.get(
    '/v1/server-groups',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Named server groups',
        tags,
        response: responses({ 200: T.Object({ items: T.Array(ServerGroup) }) }),
      },
    },
    async () => {
      const { rows } = await db.pool.query<{ name: string; cidrs: string[] }>(
        'SELECT name, cidrs::text[] AS cidrs FROM server_groups ORDER BY name',
      );
      return { items: rows };
    },
  );

  app.put(
    '/v1/server-groups/:name',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Create or replace a named server group ("controller", "pacs", ...)',
        tags,
        params: ServerGroupParams,
        body: ServerGroupInput,
        response: responses({ 200: ServerGroup }),
      },
    },
    async (req) => {
      const bad = req.body.cidrs.filter((c) => !isAddressOrCidr(c));
      if (bad.length > 0)
        throw badRequest(
          'BAD_CIDR',
          `not CIDRs: ${bad
            .slice(0, 5)
            .map((b) => JSON.stringify(b))
            .join(', ')}`,
        );
      const cidrs = req.body.cidrs.map((c) => (c.includes('/') ? c : `${c}/${isIP(c) === 6 ? 128 : 32}`));
      return withTransaction(db.pool, async (client) => {
        const prev = await client.query(
          'SELECT name, cidrs::text[] AS cidrs FROM server_groups WHERE name = $1',
          [req.params.name],
        );
        const { rows } = await client.query<{ name: string; cidrs: string[] }>(
          `INSERT INTO server_groups (name, cidrs) VALUES ($1, $2::inet[]::cidr[])
           ON CONFLICT (name) DO UPDATE SET cidrs = EXCLUDED.cidrs RETURNING name, cidrs::text[] AS cidrs`,
          [req.params.name, cidrs],
        );
        await audit(client, req, {
          action: 'server-group.put',
          targetType: 'server-group',
          targetId: req.params.name,
          before: prev.rows[0] ?? null,
          after: rows[0],
        });
        return rows[0]!;
      });
    },
  );

  app.delete(
    '/v1/server-groups/:name',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Delete a server group',
        tags,
        params: ServerGroupParams,
        response: responses({ 204: T.Null() }),
      },
    },
    async (req, reply) => {
      await withTransaction(db.pool, async (client) => {
        const { rows } = await client.query(
          'DELETE FROM server_groups WHERE name = $1 RETURNING name, cidrs::text[] AS cidrs',
          [req.params.name],
        );
        if (!rows[0]) throw notFound('GROUP_NOT_FOUND', `no server group ${req.params.name}`);
        const used = await client.query('SELECT id FROM policies WHERE rules @> $1::jsonb LIMIT 1', [
          JSON.stringify([{ peer: { group: req.params.name } }]),
        ]);
        if (used.rows[0])
          throw new ApiError(409, 'GROUP_IN_USE', `policy ${used.rows[0].id} refers to this group`);
        await audit(client, req, {
          action: 'server-group.delete',
          targetType: 'server-group',
          targetId: req.params.name,
          before: rows[0],
        });
      });
      return reply.status(204).send(null);
    },
  );
}
