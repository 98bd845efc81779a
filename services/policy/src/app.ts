import type { IncomingMessage, ServerResponse } from 'node:http';
import AjvCompiler from '@fastify/ajv-compiler';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { loadConfig, type WardwatchConfig } from '@wardwatch/config';
import type { Database } from '@wardwatch/storage';
import { type Logger, REQUEST_ID_HEADER, type Registry, requestIdFor } from '@wardwatch/telemetry';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { createKeyVerifier, type KeyVerifier, type Principal, type Role, roleAllows } from './api-keys.ts';
import type { App, RouteContext } from './context.ts';
import { ApiError, fromPgError } from './errors.ts';
import { createSecretBox, type SecretBox } from './outbox/secrets.ts';
import { adminRoutes } from './routes/admin.ts';
import { alertRoutes } from './routes/alerts.ts';
import { deviceRoutes } from './routes/devices.ts';
import { enforcementRoutes } from './routes/enforcement.ts';
import { exporterRoutes } from './routes/exporters.ts';
import { groupRoutes } from './routes/groups.ts';
import { policyRoutes } from './routes/policies.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { AlertSummary, Device, ErrorBody, Policy, Rule, responses } from './schemas.ts';

/** One row of the route table: what the authorisation matrix test iterates over. */
export interface RouteEntry {
  method: string;
  url: string;
  auth: Role | 'public';
  /** The request schemas (JSON Schema), for tests that generate input from them. */
  body: unknown;
  querystring: unknown;
  params: unknown;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role a route accepts; `public` for health probes only. */
    auth?: Role | 'public';
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyInstance {
    /** Every route with its authorisation rule, in registration order. */
    routeTable: RouteEntry[];
  }
}

/** What the API needs from its assembly. */
export interface PolicyAppDeps {
  db: Database;
  logger: Logger;
  registry: Registry;
  /** Defaults to the built-in configuration (tests); the service passes its own. */
  config?: WardwatchConfig;
  /** Extra readiness checks (e.g. the transport), by name. */
  readiness?: Record<string, () => Promise<boolean>>;
  verifier?: KeyVerifier;
  secrets?: SecretBox;
}

/** Fastify's own 4xx codes, mapped to the API's stable codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_JSON',
  FST_ERR_BAD_URL: 'BAD_URL',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

const validatorPool = AjvCompiler();

/**
 * Request validators: the querystring and path parameters are text, so ajv converts them to the schema's
 * types ("true", "50"); a JSON body carries its own types and is validated as sent. Coercing bodies
 * read `null` as 0, false or "" and `true` as 1, so `"protocol": null` became protocol 0 and
 * `"enabled": null` disabled a policy, where the caller meant something else or nothing valid.
 */
const buildValidator: typeof validatorPool = (externalSchemas, options) => {
  const coercing = validatorPool(externalSchemas, options);
  const exact = validatorPool(externalSchemas, {
    ...options,
    customOptions: { ...options?.customOptions, coerceTypes: false },
  } as typeof options);
  return (route) => (route.httpPart === 'body' ? exact(route) : coercing(route));
};

/**
 * helmet's security headers for the given options, computed once: its middleware rebuilds them (CSP
 * parsing included) on every call, which @fastify/helmet makes per request.
 */
function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: unknown) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, () => {});
  return headers;
}

/** Presented key: `Authorization: Bearer <key>`, or Basic with the key as password (firewalls fetching EDLs). */
function presentedKey(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const bearer = /^Bearer\s+(\S{1,512})$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]{1,1024})$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    const key = i >= 0 ? decoded.slice(i + 1) : decoded;
    return key.length > 0 ? key : undefined;
  }
  return undefined;
}

/** Builds the REST API (routes, auth, error handling) without listening; `listen()` is the caller's. */
export async function buildApp(deps: PolicyAppDeps): Promise<FastifyInstance> {
  const config = deps.config ?? loadConfig({ env: {} });
  const { db } = deps;
  const verifier = deps.verifier ?? createKeyVerifier(db.pool, config.api.keyCacheMs);
  const secrets = deps.secrets ?? createSecretBox(config.webhooks.secretKey);
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Writes are in the audit log and failures in the error handler; a log line per request would
    // cost more than the request on the hot read paths.
    logController: new LogController({ disableRequestLogging: true }),
    // A caller's x-request-id (or W3C trace id) becomes the request id in logs and the response header.
    genReqId: (req) => requestIdFor(req.headers),
    bodyLimit: config.api.bodyLimitBytes,
    routerOptions: { maxParamLength: 200 },
    // Router-level rejections (over-long or malformed path parameters) in the API's error shape.
    frameworkErrors: (err, _req, reply) => {
      const code = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'PARAM_TOO_LONG' : 'BAD_URL';
      (reply as unknown as { status(n: number): { send(b: unknown): void } })
        .status(err.statusCode ?? 400)
        .send({ error: { code, message: 'malformed or over-long path parameter' } });
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    schemaController: { compilersFactory: { buildValidator } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  for (const s of [ErrorBody, Device, AlertSummary, Rule, Policy]) app.addSchema(s);
  // Every response, errors and router rejections included, carries the request id and the security headers.
  const security = securityHeaders({
    // Swagger UI needs its own inline styles and scripts; everything else is JSON or text.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
      },
    },
    hsts: { maxAge: 31536000 },
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.headers(security);
    reply.header(REQUEST_ID_HEADER, req.id);
    done(null, payload);
  });
  app.decorateRequest('principal', undefined);
  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);

  // Every route declares who may call it; one that does not is refused at registration, so a new route
  // cannot be public by omission. The documentation routes of @fastify/swagger-ui need a viewer key.
  app.addHook('onRoute', (route) => {
    route.config ??= {};
    if (!route.config.auth) {
      if (route.url.startsWith('/docs')) route.config.auth = 'viewer';
      else throw new Error(`route ${route.method} ${route.url} declares no auth (config.auth)`);
    }
    const auth = route.config.auth;
    if (route.schema && !route.schema.hide) {
      route.schema.security = auth === 'public' ? [] : [{ apiKey: [] }];
      if (auth !== 'public')
        route.schema.description = `${route.schema.description ?? ''}\n\nRole: ${auth} or above.`.trim();
    }
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routeTable.push({
        method,
        url: route.url,
        auth,
        body: route.schema?.body,
        querystring: route.schema?.querystring,
        params: route.schema?.params,
      });
    }
  });

  // Unknown keys are looked up in the database (then cached briefly); failed attempts are counted per
  // address, which is refused for a minute after too many. Keys that verified in the last 10 minutes
  // are still let through to verification then (and checked as always: a revoked one still fails), so a
  // SOC client behind the same NAT or proxy as someone guessing keys is not locked out with them.
  const failures = new Map<string, { n: number; until: number }>();
  const recentlyValid = new Map<string, number>();
  app.addHook('onRequest', async (req, reply) => {
    const need = req.routeOptions.config?.auth;
    if (need === 'public') return;
    if (!need) return; // the 404 handler: no route, nothing to protect
    const key = presentedKey(req.headers.authorization);
    const f = failures.get(req.ip);
    if (f && f.until > Date.now() && f.n >= 1000 && !(key && (recentlyValid.get(key) ?? 0) > Date.now()))
      throw new ApiError(429, 'RATE_LIMITED', 'too many failed authentications');
    const principal = key ? await verifier.verify(key) : undefined;
    if (!principal && key) {
      const now = Date.now();
      const cur = f && f.until > now ? f : { n: 0, until: now + 60_000 };
      cur.n++;
      if (failures.size > 10_000) failures.clear();
      failures.set(req.ip, cur);
    }
    if (principal && key) {
      const now = Date.now();
      // Refreshed at most every 5 minutes: no map write on most requests.
      if ((recentlyValid.get(key) ?? 0) < now + 300_000) {
        if (recentlyValid.size > 10_000) recentlyValid.clear();
        recentlyValid.set(key, now + 600_000);
      }
    }
    if (!principal) {
      reply.header('www-authenticate', 'Bearer realm="wardwatch", Basic realm="wardwatch"');
      throw new ApiError(
        401,
        'UNAUTHENTICATED',
        key ? 'unknown, expired or revoked API key' : 'send an API key as "Authorization: Bearer <key>"',
      );
    }
    if (!roleAllows(principal.role, need))
      throw new ApiError(403, 'FORBIDDEN', `this route needs the ${need} role`);
    req.principal = principal;
  });

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    const mapped = err instanceof ApiError ? err : fromPgError(err);
    const status = mapped ? mapped.statusCode : (err.statusCode ?? 500);
    if (status >= 500) {
      req.log.error({ err, url: req.url, method: req.method }, 'request failed');
      return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
    }
    let code: string;
    if (mapped) code = mapped.code;
    else if ((err as FastifyError).validation) code = 'VALIDATION_FAILED';
    else if (status === 429) code = 'RATE_LIMITED';
    else code = FASTIFY_CODES[(err as FastifyError).code] ?? 'BAD_REQUEST';
    const message = mapped ? mapped.message : err.message;
    return reply.status(status).send({ error: { code, message: message.slice(0, 500) } });
  });

  app.setNotFoundHandler((_req, reply) => {
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  });

  await app.register(rateLimit, {
    global: true,
    max: config.api.rateLimitPerMinute,
    timeWindow: 60_000,
    hook: 'onRequest',
    keyGenerator: (req) => (req.principal ? `k:${req.principal.keyId}` : `ip:${req.ip}`),
    errorResponseBuilder: (_req, c) =>
      new ApiError(
        429,
        'RATE_LIMITED',
        `rate limit of ${c.max} requests per minute exceeded; retry in ${c.after}`,
      ),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Wardwatch API',
        version: '1.0.0',
        description:
          'The SOC API of Wardwatch: device inventory and behaviour, alerts, device policies (RFC 8520 MUD), ' +
          'enforcement (quarantine, webhooks, firewall feeds) and administration. Authenticate with ' +
          '`Authorization: Bearer <API key>`.',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Wardwatch API key' } },
      },
      security: [{ apiKey: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiConfig: { persistAuthorization: false },
  });

  const ctx: RouteContext = {
    db,
    config,
    logger: deps.logger,
    registry: deps.registry,
    verifier,
    secrets,
    readiness: deps.readiness ?? {},
  };

  app.get(
    '/healthz',
    {
      config: { auth: 'public' },
      schema: { summary: 'Liveness', tags: ['health'], response: { 200: T.Object({ status: T.String() }) } },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      config: { auth: 'public' },
      schema: {
        summary: 'Readiness: the database and the transport answer',
        tags: ['health'],
        response: {
          200: T.Object({ status: T.String(), checks: T.Record(T.String(), T.Boolean()) }),
          503: T.Object({ status: T.String(), checks: T.Record(T.String(), T.Boolean()) }),
        },
      },
    },
    async (_req, reply) => {
      const checks: Record<string, boolean> = { database: await db.ping() };
      for (const [name, check] of Object.entries(ctx.readiness))
        checks[name] = await check().catch(() => false);
      const ready = Object.values(checks).every(Boolean);
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
    },
  );

  app.get(
    '/metrics',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Prometheus metrics',
        tags: ['health'],
        produces: ['text/plain'],
        response: responses({ 200: T.String() }),
      },
    },
    async (_req, reply) => {
      reply.header('content-type', deps.registry.contentType);
      return deps.registry.metrics();
    },
  );

  app.get('/openapi.json', { config: { auth: 'viewer' }, schema: { hide: true } }, async () => app.swagger());

  deviceRoutes(app, ctx);
  alertRoutes(app, ctx);
  policyRoutes(app, ctx);
  enforcementRoutes(app, ctx);
  exporterRoutes(app, ctx);
  groupRoutes(app, ctx);
  webhookRoutes(app, ctx);
  adminRoutes(app, ctx);

  return app as unknown as FastifyInstance;
}
