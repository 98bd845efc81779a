import { isIP } from 'node:net';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Database } from '@wardwatch/storage';
import type { Logger, Registry } from '@wardwatch/telemetry';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { findApiKey, type Principal, type Role, roleAllows } from './api-keys.ts';
import { ApiError } from './errors.ts';
import {
  type Device,
  DeviceList,
  DeviceListQuery,
  Device as DeviceSchema,
  ErrorBody,
  IpParams,
} from './schemas.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role a route accepts; `public` for health probes only. */
    auth: Role | 'public';
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

/** What the API needs from its assembly. */
export interface PolicyAppDeps {
  db: Database;
  logger: Logger;
  registry: Registry;
  /** Extra readiness checks (e.g. the transport), by name. */
  readiness?: Record<string, () => Promise<boolean>>;
}

interface DeviceRow {
  ip: string;
  first_seen: Date;
  last_seen: Date;
  bytes_sent: number;
  packets_sent: number;
  flows_sent: number;
  bytes_received: number;
  packets_received: number;
  flows_received: number;
}

const DEVICE_COLUMNS = `host(ip) AS ip, first_seen, last_seen, bytes_sent, packets_sent, flows_sent,
  bytes_received, packets_received, flows_received`;

function toDevice(r: DeviceRow): Device {
  return {
    ip: r.ip,
    firstSeen: r.first_seen.toISOString(),
    lastSeen: r.last_seen.toISOString(),
    bytes: r.bytes_sent + r.bytes_received,
    packets: r.packets_sent + r.packets_received,
    flows: r.flows_sent + r.flows_received,
    bytesSent: r.bytes_sent,
    packetsSent: r.packets_sent,
    flowsSent: r.flows_sent,
    bytesReceived: r.bytes_received,
    packetsReceived: r.packets_received,
    flowsReceived: r.flows_received,
  };
}

/** Builds the REST API (routes, auth, error handling) without listening; `listen()` is the caller's. */
export async function buildApp(deps: PolicyAppDeps): Promise<FastifyInstance> {
  const { db } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 1_048_576,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addSchema(ErrorBody);
  app.decorateRequest('principal', undefined);

  // Every route declares who may call it; a route without that declaration is refused, so a new
  // route cannot be public by omission.
  app.addHook('onRequest', async (req) => {
    const need = req.routeOptions.config?.auth;
    if (need === 'public') return;
    if (!need) {
      if (req.routeOptions.url === undefined) return; // 404 handler
      throw new ApiError(500, 'ROUTE_WITHOUT_AUTH', 'route has no authorisation rule');
    }
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!m) throw new ApiError(401, 'UNAUTHENTICATED', 'send an API key as "Authorization: Bearer <key>"');
    const principal = await findApiKey(db.pool, m[1]!);
    if (!principal) throw new ApiError(401, 'UNAUTHENTICATED', 'unknown or revoked API key');
    if (!roleAllows(principal.role, need)) {
      throw new ApiError(403, 'FORBIDDEN', `this route needs the ${need} role`);
    }
    req.principal = principal;
  });

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    const status = err instanceof ApiError ? err.statusCode : (err.statusCode ?? 500);
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
    }
    const code =
      err instanceof ApiError ? err.code : err.validation ? 'BAD_REQUEST' : err.code || 'BAD_REQUEST';
    return reply.status(status).send({ error: { code, message: err.message } });
  });

  app.setNotFoundHandler((_req, reply) => {
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  });

  app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { auth: 'public' } }, async (_req, reply) => {
    const checks: Record<string, boolean> = { database: await db.ping() };
    for (const [name, check] of Object.entries(deps.readiness ?? {})) checks[name] = await check();
    const ready = Object.values(checks).every(Boolean);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });

  app.get('/metrics', { config: { auth: 'viewer' } }, async (_req, reply) => {
    reply.header('content-type', deps.registry.contentType);
    return deps.registry.metrics();
  });

  app.get(
    '/v1/devices',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'List devices',
        tags: ['devices'],
        querystring: DeviceListQuery,
        response: { 200: DeviceList, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req) => {
      const { limit, cursor } = req.query;
      if (cursor !== undefined && isIP(cursor) === 0) throw new ApiError(400, 'BAD_CURSOR', 'invalid cursor');
      const { rows } = await db.pool.query<DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE ($1::inet IS NULL OR ip > $1::inet) ORDER BY ip LIMIT $2`,
        [cursor ?? null, limit + 1],
      );
      const more = rows.length > limit;
      const items = rows.slice(0, limit).map(toDevice);
      return { items, nextCursor: more ? items[items.length - 1]!.ip : null };
    },
  );

  app.get(
    '/v1/devices/:ip',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'One device',
        tags: ['devices'],
        params: IpParams,
        response: { 200: DeviceSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => {
      const { ip } = req.params;
      if (isIP(ip) === 0)
        throw new ApiError(400, 'BAD_ADDRESS', `${JSON.stringify(ip)} is not an IP address`);
      const { rows } = await db.pool.query<DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE ip = $1::inet`,
        [ip],
      );
      if (rows.length === 0) throw new ApiError(404, 'DEVICE_NOT_FOUND', `no device ${ip}`);
      return toDevice(rows[0]!);
    },
  );

  return app as unknown as FastifyInstance;
}
