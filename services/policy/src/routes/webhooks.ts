import { Type as T } from '@sinclair/typebox';
import { withTransaction } from '@wardwatch/storage';
import { audit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { badRequest, notFound } from '../errors.ts';
import { decodeCursor, encodeCursor } from '../params.ts';
import {
  Delivery,
  Nullable,
  PageQuery,
  responses,
  UuidParams,
  Webhook,
  WebhookInput,
  WebhookPatch,
} from '../schemas.ts';

interface WebhookRow {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}
const COLUMNS = 'id, url, events, description, enabled, created_by, created_at, updated_at';
const toWebhook = (r: WebhookRow) => ({
  id: r.id,
  url: r.url,
  events: r.events,
  description: r.description,
  enabled: r.enabled,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badRequest('BAD_URL', 'url must be an absolute http(s) URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw badRequest('BAD_URL', 'url must be http or https');
  if (u.username || u.password) throw badRequest('BAD_URL', 'put credentials in the secret, not the URL');
}

/** Webhook subscriptions (admin) and their delivery log. */
export function webhookRoutes(app: App, ctx: RouteContext): void {
  const { db, secrets } = ctx;
  const tags = ['webhooks'];

  app.get(
    '/v1/webhooks',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'List webhook subscriptions',
        tags,
        response: responses({ 200: T.Object({ items: T.Array(Webhook) }) }),
      },
    },
    async () => {
      const { rows } = await db.pool.query<WebhookRow>(`SELECT ${COLUMNS} FROM webhooks ORDER BY created_at`);
      return { items: rows.map(toWebhook) };
    },
  );

  app.post(
    '/v1/webhooks',
    {
      config: { auth: 'admin' },
      schema: {
        summary:
          'Subscribe a URL to events; bodies are signed with the secret (HMAC-SHA256, Wardwatch-Signature)',
        tags,
        body: WebhookInput,
        response: responses({ 201: Webhook }),
      },
    },
    async (req, reply) => {
      const b = req.body;
      checkUrl(b.url);
      const created = await withTransaction(db.pool, async (client) => {
        const { rows } = await client.query<WebhookRow>(
          `INSERT INTO webhooks (url, events, secret, description, enabled, created_by) VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING ${COLUMNS}`,
          [
            b.url,
            b.events,
            secrets.seal(b.secret),
            b.description ?? '',
            b.enabled ?? true,
            req.principal?.name ?? 'unknown',
          ],
        );
        const w = toWebhook(rows[0]!);
        // The secret is never logged or audited.
        await audit(client, req, {
          action: 'webhook.create',
          targetType: 'webhook',
          targetId: w.id,
          after: w,
        });
        return w;
      });
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/v1/webhooks/:id',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'One subscription',
        tags,
        params: UuidParams,
        response: responses({ 200: Webhook }),
      },
    },
    async (req) => {
      const { rows } = await db.pool.query<WebhookRow>(`SELECT ${COLUMNS} FROM webhooks WHERE id = $1`, [
        req.params.id,
      ]);
      if (!rows[0]) throw notFound('WEBHOOK_NOT_FOUND', `no webhook ${req.params.id}`);
      return toWebhook(rows[0]);
    },
  );

  app.patch(
    '/v1/webhooks/:id',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Change a subscription (url, events, secret, enabled)',
        tags,
        params: UuidParams,
        body: WebhookPatch,
        response: responses({ 200: Webhook }),
      },
    },
    async (req) => {
      const b = req.body;
      if (b.url) checkUrl(b.url);
      return withTransaction(db.pool, async (client) => {
        const prev = await client.query<WebhookRow>(
          `SELECT ${COLUMNS} FROM webhooks WHERE id = $1 FOR UPDATE`,
          [req.params.id],
        );
        if (!prev.rows[0]) throw notFound('WEBHOOK_NOT_FOUND', `no webhook ${req.params.id}`);
        const { rows } = await client.query<WebhookRow>(
          `UPDATE webhooks SET url = COALESCE($2, url), events = COALESCE($3, events), secret = COALESCE($4, secret),
             description = COALESCE($5, description), enabled = COALESCE($6, enabled), updated_at = now()
           WHERE id = $1 RETURNING ${COLUMNS}`,
          [
            req.params.id,
            b.url ?? null,
            b.events ?? null,
            b.secret ? secrets.seal(b.secret) : null,
            b.description ?? null,
            b.enabled ?? null,
          ],
        );
        const after = toWebhook(rows[0]!);
        await audit(client, req, {
          action: 'webhook.update',
          targetType: 'webhook',
          targetId: after.id,
          before: toWebhook(prev.rows[0]),
          after: { ...after, ...(b.secret ? { secretChanged: true } : {}) },
        });
        return after;
      });
    },
  );

  app.delete(
    '/v1/webhooks/:id',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Delete a subscription and its delivery log',
        tags,
        params: UuidParams,
        response: responses({ 204: T.Null() }),
      },
    },
    async (req, reply) => {
      await withTransaction(db.pool, async (client) => {
        const { rows } = await client.query<WebhookRow>(
          `DELETE FROM webhooks WHERE id = $1 RETURNING ${COLUMNS}`,
          [req.params.id],
        );
        if (!rows[0]) throw notFound('WEBHOOK_NOT_FOUND', `no webhook ${req.params.id}`);
        await audit(client, req, {
          action: 'webhook.delete',
          targetType: 'webhook',
          targetId: req.params.id,
          before: toWebhook(rows[0]),
        });
      });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Delivery log of a subscription, newest first',
        tags,
        params: UuidParams,
        querystring: PageQuery,
        response: responses({
          200: T.Object({ items: T.Array(Delivery), nextCursor: Nullable(T.String()) }),
        }),
      },
    },
    async (req) => {
      const w = await db.pool.query('SELECT 1 FROM webhooks WHERE id = $1', [req.params.id]);
      if (!w.rows[0]) throw notFound('WEBHOOK_NOT_FOUND', `no webhook ${req.params.id}`);
      let before = Number.MAX_SAFE_INTEGER;
      if (req.query.cursor) {
        const c = decodeCursor(req.query.cursor);
        if (!c || !Number.isSafeInteger(c[0])) throw badRequest('BAD_CURSOR', 'invalid cursor');
        before = c[0] as number;
      }
      const { rows } = await db.pool.query<{
        id: number;
        event_id: number;
        type: string;
        idempotency_key: string;
        status: string;
        attempts: number;
        next_attempt_at: Date;
        last_attempt_at: Date | null;
        last_status_code: number | null;
        last_error: string | null;
        delivered_at: Date | null;
      }>(
        `SELECT d.id, d.event_id, e.type, e.idempotency_key, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at,
                d.last_status_code, d.last_error, d.delivered_at
         FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.webhook_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3`,
        [req.params.id, before, req.query.limit + 1],
      );
      const more = rows.length > req.query.limit;
      const page = rows.slice(0, req.query.limit);
      return {
        items: page.map((r) => ({
          id: r.id,
          eventId: r.event_id,
          eventType: r.type,
          idempotencyKey: r.idempotency_key,
          status: r.status,
          attempts: r.attempts,
          nextAttemptAt: r.next_attempt_at.toISOString(),
          lastAttemptAt: r.last_attempt_at?.toISOString() ?? null,
          lastStatusCode: r.last_status_code,
          lastError: r.last_error,
          deliveredAt: r.delivered_at?.toISOString() ?? null,
        })),
        nextCursor: more ? encodeCursor([page[page.length - 1]!.id]) : null,
      };
    },
  );

  app.post(
    '/v1/webhooks/:id/deliveries/:deliveryId/retry',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Retry a failed delivery now',
        tags,
        params: T.Object({ id: T.String({ format: 'uuid' }), deliveryId: T.Integer({ minimum: 1 }) }),
        response: responses({ 202: T.Object({ status: T.String() }) }),
      },
    },
    async (req, reply) => {
      await withTransaction(db.pool, async (client) => {
        const { rows } = await client.query(
          `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
           WHERE id = $1 AND webhook_id = $2 AND status <> 'delivered' RETURNING id`,
          [req.params.deliveryId, req.params.id],
        );
        if (!rows[0])
          throw notFound('DELIVERY_NOT_FOUND', 'no undelivered delivery with that id for this webhook');
        await audit(client, req, {
          action: 'webhook.retry',
          targetType: 'webhook',
          targetId: req.params.id,
          after: { deliveryId: req.params.deliveryId },
        });
      });
      return reply.status(202).send({ status: 'pending' });
    },
  );
}
