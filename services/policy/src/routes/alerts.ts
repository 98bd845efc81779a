import { isIP } from 'node:net';
import { severitiesFrom } from '@wardwatch/flow-schema';
import { withTransaction } from '@wardwatch/storage';
import type { FastifyRequest } from 'fastify';
import type pg from 'pg';
import { audit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { ApiError, badRequest, conflict, notFound } from '../errors.ts';
import { decodeCursor, encodeCursor } from '../params.ts';
import { Where } from '../query.ts';
import {
  AlertAck,
  AlertAssign,
  AlertBulk,
  AlertDetail,
  AlertList,
  AlertListQuery,
  AlertResolve,
  BulkResult,
  Comment,
  CommentInput,
  IdParams,
  responses,
} from '../schemas.ts';

const ALERT_COLUMNS = `a.id, host(a.device_ip) AS device_ip, a.kind, a.severity, a.status, a.title, a.first_seen,
  a.last_seen, a.occurrences, a.assignee, a.resolution, a.created_at, a.updated_at`;

interface AlertRow {
  id: number;
  device_ip: string;
  kind: string;
  severity: string;
  status: string;
  title: string;
  first_seen: Date;
  last_seen: Date;
  occurrences: number;
  assignee: string | null;
  resolution: string | null;
  created_at: Date;
  updated_at: Date;
}

const toAlert = (r: AlertRow) => ({
  id: r.id,
  deviceIp: r.device_ip,
  kind: r.kind,
  severity: r.severity,
  status: r.status,
  title: r.title,
  firstSeen: r.first_seen.toISOString(),
  lastSeen: r.last_seen.toISOString(),
  occurrences: r.occurrences,
  assignee: r.assignee,
  resolution: r.resolution,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

type Action =
  | { action: 'acknowledge'; comment?: string | undefined }
  | { action: 'resolve'; reason: string }
  | { action: 'assign'; assignee: string | null }
  | { action: 'comment'; comment: string };

interface CommentRow {
  id: number;
  author: string;
  body: string;
  created_at: Date;
}

/**
 * Applies one analyst action to one alert inside a transaction: state check, change, comment, audit.
 * Answers the alert after the change and, for a comment action, the comment it created.
 */
async function act(client: pg.PoolClient, req: FastifyRequest, id: number, a: Action) {
  const { rows } = await client.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM alerts a WHERE a.id = $1 FOR UPDATE`,
    [id],
  );
  const before = rows[0];
  if (!before) throw notFound('ALERT_NOT_FOUND', `no alert ${id}`);
  const author = req.principal?.name ?? 'unknown';
  let comment: CommentRow | undefined;
  if (a.action === 'acknowledge') {
    if (before.status !== 'open') throw conflict('ALERT_NOT_OPEN', `alert ${id} is ${before.status}`);
    await client.query("UPDATE alerts SET status = 'acknowledged', updated_at = now() WHERE id = $1", [id]);
    if (a.comment)
      await client.query('INSERT INTO alert_comments (alert_id, author, body) VALUES ($1, $2, $3)', [
        id,
        author,
        a.comment,
      ]);
  } else if (a.action === 'resolve') {
    if (!a.reason.trim()) throw badRequest('REASON_REQUIRED', 'resolve needs a reason');
    if (before.status === 'resolved') throw conflict('ALERT_RESOLVED', `alert ${id} is already resolved`);
    await client.query(
      "UPDATE alerts SET status = 'resolved', resolution = $2, updated_at = now() WHERE id = $1",
      [id, a.reason],
    );
    await client.query('INSERT INTO alert_comments (alert_id, author, body) VALUES ($1, $2, $3)', [
      id,
      author,
      `Resolved: ${a.reason}`,
    ]);
  } else if (a.action === 'assign') {
    // Like acknowledge and resolve, a closed alert takes no more work (comments stay open for notes).
    if (before.status === 'resolved') throw conflict('ALERT_RESOLVED', `alert ${id} is resolved`);
    await client.query('UPDATE alerts SET assignee = $2, updated_at = now() WHERE id = $1', [id, a.assignee]);
  } else {
    const c = await client.query<CommentRow>(
      'INSERT INTO alert_comments (alert_id, author, body) VALUES ($1, $2, $3) RETURNING id, author, body, created_at',
      [id, author, a.comment],
    );
    comment = c.rows[0];
  }
  const after = await client.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts a WHERE a.id = $1`, [id]);
  await audit(client, req, {
    action: `alert.${a.action}`,
    targetType: 'alert',
    targetId: String(id),
    before: toAlert(before),
    after: { ...toAlert(after.rows[0]!), ...(a.action === 'comment' ? { comment: a.comment } : {}) },
  });
  return { alert: toAlert(after.rows[0]!), comment };
}

/** Alert routes: list/filter, detail, acknowledge, resolve, assign, comment, bulk. */
export function alertRoutes(app: App, ctx: RouteContext): void {
  const { db } = ctx;
  const tags = ['alerts'];

  app.get(
    '/v1/alerts',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'List alerts, newest first',
        tags,
        querystring: AlertListQuery,
        response: responses({ 200: AlertList }),
      },
    },
    async (req) => {
      const q = req.query;
      const w = new Where();
      if (q.status) w.add('a.status = $?', q.status);
      if (q.severity) w.add('a.severity = $?', q.severity);
      if (q.minSeverity) w.add('a.severity = ANY($?)', severitiesFrom(q.minSeverity));
      if (q.kind) w.add('a.kind = $?', q.kind);
      if (q.deviceIp) {
        if (isIP(q.deviceIp) === 0) throw badRequest('BAD_ADDRESS', 'deviceIp must be an IP address');
        w.add('a.device_ip = $?::inet', q.deviceIp);
      }
      if (q.assignee) w.add('a.assignee = $?', q.assignee);
      if (q.since) w.add('a.last_seen >= $?::timestamptz', q.since);
      if (q.cursor) {
        const c = decodeCursor(q.cursor);
        if (!c || !Number.isSafeInteger(c[0])) throw badRequest('BAD_CURSOR', 'invalid cursor');
        w.add('a.id < $?', c[0]);
      }
      const { rows } = await db.pool.query<AlertRow>(
        `SELECT ${ALERT_COLUMNS} FROM alerts a ${w.sql()} ORDER BY a.id DESC LIMIT ${w.param(q.limit + 1)}`,
        w.params,
      );
      const more = rows.length > q.limit;
      const page = rows.slice(0, q.limit);
      return {
        items: page.map(toAlert),
        nextCursor: more ? encodeCursor([page[page.length - 1]!.id]) : null,
      };
    },
  );

  app.get(
    '/v1/alerts/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'One alert with its evidence and comments',
        tags,
        params: IdParams,
        response: responses({ 200: AlertDetail }),
      },
    },
    async (req) => {
      const { rows } = await db.pool.query<AlertRow & { evidence: unknown }>(
        `SELECT ${ALERT_COLUMNS}, a.evidence FROM alerts a WHERE a.id = $1`,
        [req.params.id],
      );
      if (!rows[0]) throw notFound('ALERT_NOT_FOUND', `no alert ${req.params.id}`);
      const c = await db.pool.query<{ id: number; author: string; body: string; created_at: Date }>(
        'SELECT id, author, body, created_at FROM alert_comments WHERE alert_id = $1 ORDER BY id',
        [req.params.id],
      );
      return {
        ...toAlert(rows[0]),
        evidence: rows[0].evidence,
        comments: c.rows.map((r) => ({
          id: r.id,
          author: r.author,
          body: r.body,
          createdAt: r.created_at.toISOString(),
        })),
      };
    },
  );

  const one = (path: string, summary: string, body: object, toAction: (b: never) => Action, status = 200) =>
    app.post(
      `/v1/alerts/:id/${path}`,
      {
        config: { auth: 'analyst' },
        schema: {
          summary,
          tags,
          params: IdParams,
          body,
          response: responses({ [status]: path === 'comments' ? Comment : { $ref: 'Alert' } }),
        },
      },
      async (req, reply) => {
        const params = req.params as { id: number };
        const action = toAction((req.body ?? {}) as never);
        const result = await withTransaction(db.pool, (client) => act(client, req, params.id, action));
        if (path !== 'comments') return result.alert;
        // The comment this request created (another analyst's may have committed since).
        const r = result.comment!;
        return reply
          .status(201)
          .send({ id: r.id, author: r.author, body: r.body, createdAt: r.created_at.toISOString() });
      },
    );
  one('acknowledge', 'Acknowledge an open alert (optional comment)', AlertAck, (b: { comment?: string }) => ({
    action: 'acknowledge',
    comment: b.comment,
  }));
  one('resolve', 'Resolve an alert with a reason', AlertResolve, (b: { reason: string }) => ({
    action: 'resolve',
    reason: b.reason,
  }));
  one('assign', 'Assign an alert (null unassigns)', AlertAssign, (b: { assignee: string | null }) => ({
    action: 'assign',
    assignee: b.assignee,
  }));
  one(
    'comments',
    'Comment on an alert',
    CommentInput,
    (b: { body: string }) => ({ action: 'comment', comment: b.body }),
    201,
  );

  app.post(
    '/v1/alerts/bulk',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Apply one action to many alerts; each alert succeeds or fails on its own',
        tags,
        body: AlertBulk,
        response: responses({ 200: BulkResult }),
      },
    },
    async (req) => {
      const b = req.body;
      let action: Action;
      if (b.action === 'resolve') {
        if (!b.reason?.trim()) throw badRequest('REASON_REQUIRED', 'resolve needs a reason');
        action = { action: 'resolve', reason: b.reason };
      } else if (b.action === 'assign') {
        if (b.assignee === undefined)
          throw badRequest('ASSIGNEE_REQUIRED', 'assign needs an assignee (null unassigns)');
        action = { action: 'assign', assignee: b.assignee };
      } else if (b.action === 'comment') {
        if (!b.comment) throw badRequest('COMMENT_REQUIRED', 'comment needs a comment');
        action = { action: 'comment', comment: b.comment };
      } else action = { action: 'acknowledge', comment: b.comment };
      const results: Array<{ id: number; ok: boolean; code?: string }> = [];
      for (const id of b.ids) {
        try {
          await withTransaction(db.pool, (client) => act(client, req, id, action));
          results.push({ id, ok: true });
        } catch (err) {
          if (err instanceof ApiError && err.statusCode < 500)
            results.push({ id, ok: false, code: err.code });
          else throw err;
        }
      }
      return { results };
    },
  );
}
