import { Type as T } from '@sinclair/typebox';
import {
  API_KEY_COLUMNS,
  type ApiKeyRow,
  createApiKeyAudited,
  type Role,
  revokeApiKeyAudited,
  toApiKey,
} from '../api-keys.ts';
import { readAudit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { badRequest, notFound } from '../errors.ts';
import { decodeCursor, encodeCursor, parseTime } from '../params.ts';
import { Where } from '../query.ts';
import { ApiKey, ApiKeyInput, AuditQuery, AuditRecord, Nullable, responses, UuidParams } from '../schemas.ts';

/** Admin routes: API keys and the audit log. */
export function adminRoutes(app: App, ctx: RouteContext): void {
  const { db, verifier } = ctx;
  const tags = ['admin'];

  app.get(
    '/v1/apikeys',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'List API keys (never the keys themselves)',
        tags,
        response: responses({ 200: T.Object({ items: T.Array(ApiKey) }) }),
      },
    },
    async () => {
      const { rows } = await db.pool.query<ApiKeyRow>(
        `SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY created_at`,
      );
      return { items: rows.map(toApiKey) };
    },
  );

  app.post(
    '/v1/apikeys',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Create an API key; the key is in this response only',
        tags,
        body: ApiKeyInput,
        response: responses({ 201: T.Object({ key: T.String(), apiKey: ApiKey }) }),
      },
    },
    async (req, reply) => {
      const b = req.body;
      const expiresAt = b.expiresAt ? parseTime(b.expiresAt, 'expiresAt') : null;
      if (expiresAt && expiresAt.getTime() <= Date.now())
        throw badRequest('EXPIRY_IN_PAST', 'expiresAt is in the past');
      const out = await createApiKeyAudited(db.pool, req, {
        name: b.name,
        role: b.role as Role,
        expiresAt,
        createdBy: req.principal?.name ?? 'unknown',
      });
      return reply.status(201).send(out);
    },
  );

  app.delete(
    '/v1/apikeys/:id',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Revoke an API key',
        tags,
        params: UuidParams,
        response: responses({ 200: ApiKey }),
      },
    },
    async (req) => {
      const out = await revokeApiKeyAudited(db.pool, req, req.params.id);
      if (!out) throw notFound('APIKEY_NOT_FOUND', `no API key ${req.params.id}`);
      verifier.clear();
      return out;
    },
  );

  app.get(
    '/v1/audit',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'The audit log of writes, newest first',
        tags,
        querystring: AuditQuery,
        response: responses({
          200: T.Object({ items: T.Array(AuditRecord), nextCursor: Nullable(T.String()) }),
        }),
      },
    },
    async (req) => {
      const q = req.query;
      const w = new Where();
      if (q.targetType) w.add('target_type = $?', q.targetType);
      if (q.targetId) w.add('target_id = $?', q.targetId);
      if (q.action) w.add('action = $?', q.action);
      if (q.cursor) {
        const c = decodeCursor(q.cursor);
        if (!c || !Number.isSafeInteger(c[0])) throw badRequest('BAD_CURSOR', 'invalid cursor');
        w.add('id < $?', c[0]);
      }
      const rows = await readAudit(db.pool, w, q.limit + 1);
      const more = rows.length > q.limit;
      const page = rows.slice(0, q.limit);
      return {
        items: page,
        nextCursor: more ? encodeCursor([page[page.length - 1]!.id]) : null,
      };
    },
  );
}
