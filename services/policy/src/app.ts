import type { IncomingMessage, ServerResponse } from 'node:http';
import AjvCompiler from '@fastify/ajv-compiler';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { loadConfig, type WardwatchConfig } from '@wardwatch/config';
import type { Database } from '@wardwatch/storage';
import { Counter, type Logger, REQUEST_ID_HEADER, type Registry, requestIdFor } from '@wardwatch/telemetry';
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
import { operationIdFor } from './operation-id.ts';
import { createSecretBox, type SecretBox } from './outbox/secrets.ts';
import { adminRoutes } from './routes/admin.ts';
import { alertRoutes } from './routes/alerts.ts';
import { consoleRoutes } from './routes/console.ts';
import { deviceRoutes } from './routes/devices.ts';
import { enforcementRoutes } from './routes/enforcement.ts';
import { exporterTrustRoutes } from './routes/exporter-trust.ts';
import { exporterRoutes } from './routes/exporters.ts';
import { groupRoutes } from './routes/groups.ts';
import { policyRoutes } from './routes/policies.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { AlertSummary, Device, ErrorBody, Policy, Rule, responses } from './schemas.ts';
import { checkCsrf, createSessionStore, type Session } from './session.ts';
import { createSignInGuard } from './sign-in.ts';

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
    /** The console session the request was authenticated by (cookie), if any. */
    session: Session | undefined;
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
  /** Certificate and key: the app serves HTTPS (see tls.ts); unset: HTTP. */
  https?: { cert: Buffer; key: Buffer };
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

/** Trusts the nearest `n` hops of X-Forwarded-For (a fixed chain of proxies). */
function hopsTrusted(n: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < n;
}

/** Failed API authentications by reason, counted before any lockout or rate limit answers. */
function authFailureCounter(registry: Registry): Counter<'reason'> {
  const name = 'wardwatch_api_auth_failures_total';
  return (
    (registry.getSingleMetric(name) as Counter<'reason'> | undefined) ??
    new Counter({
      name,
      help: 'Failed API authentications: no_key, bad_key (unknown, expired or revoked), locked_out (refused by the per-address lockout)',
      labelNames: ['reason'] as const,
      registers: [registry],
    })
  );
}

/** Builds the REST API (routes, auth, error handling) without listening; `listen()` is the caller's. */
export async function buildApp(deps: PolicyAppDeps): Promise<FastifyInstance> {
  const config = deps.config ?? loadConfig({ env: {} });
  const { db } = deps;
  const verifier = deps.verifier ?? createKeyVerifier(db.pool, config.api.keyCacheMs);
  const secrets = deps.secrets ?? createSecretBox(config.webhooks.secretKey);
  const app = Fastify({
    ...(deps.https ? { https: { ...deps.https, minVersion: 'TLSv1.2' as const } } : {}),
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Writes are in the audit log and failures in the error handler; a log line per request would
    // cost more than the request on the hot read paths.
    logController: new LogController({ disableRequestLogging: true }),
    // A caller's x-request-id (or W3C trace id) becomes the request id in logs and the response header.
    genReqId: (req) => requestIdFor(req.headers),
    bodyLimit: config.api.bodyLimitBytes,
    // Behind an ingress or reverse proxy, the client's address is in X-Forwarded-For: trusted only from
    // the proxies named here (else every client would be the proxy for lockout, rate limit and audit).
    trustProxy:
      typeof config.api.trustProxy === 'number'
        ? hopsTrusted(config.api.trustProxy)
        : (config.api.trustProxy as boolean | string[]),
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
  // The console (and everything else) gets a strict policy: scripts and styles from this origin only, no
  // inline script or style, no eval, no framing. Swagger UI needs inline styles, so /docs keeps them.
  const strictCsp = {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  };
  const security = securityHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: strictCsp },
    frameguard: { action: 'deny' },
    hsts: { maxAge: 31536000 },
  });
  const docsSecurity = securityHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { ...strictCsp, styleSrc: ["'self'", "'unsafe-inline'"] },
    },
    frameguard: { action: 'deny' },
    hsts: { maxAge: 31536000 },
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.headers(req.url.startsWith('/docs') ? docsSecurity : security);
    reply.header(REQUEST_ID_HEADER, req.id);
    done(null, payload);
  });
  app.decorateRequest('principal', undefined);
  app.decorateRequest('session', undefined);
  const sessions = createSessionStore(db.pool);
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
      // A stable operationId for client generators: the route's own, else derived from method and path.
      const method = Array.isArray(route.method) ? route.method[0]! : route.method;
      (route.schema as { operationId?: string }).operationId ??= operationIdFor(method, route.url);
      route.schema.security = auth === 'public' ? [] : [{ apiKey: [] }, { session: [] }];
      // The HEAD route fastify adds for a GET shares its schema: say the role once.
      const role = `Role: ${auth} or above.`;
      if (auth !== 'public' && !route.schema.description?.endsWith(role))
        route.schema.description = `${route.schema.description ?? ''}\n\n${role}`.trim();
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
  // address (req.ip: the client's own address behind a trusted proxy, api.trustProxy), which is refused
  // for a minute after too many (sign-in.ts: a flood of addresses cannot flush the table). Keys that
  // verified in the last 10 minutes are still let through to verification then (and checked as always:
  // a revoked one still fails), so a SOC client behind the same NAT or proxy as someone guessing keys is
  // not locked out with them. Every failure is counted first (refused by the lockout included), and
  // logged with the key's prefix and the address: the first few per address, then every hundredth.
  const signIns = createSignInGuard({ threshold: 1000, windowMs: 60_000, maxTracked: 10_000 });
  const authFailures = authFailureCounter(deps.registry);
  const logFailure = (
    req: { ip: string; log: FastifyBaseLogger },
    key: string,
    n: number,
    reason: string,
  ) => {
    if (n <= 10 || n % 100 === 0)
      req.log.warn(
        { address: req.ip, keyPrefix: key.slice(0, 7), failures: n, reason },
        'API sign-in failed',
      );
  };
  const recentlyValid = new Map<string, number>();
  app.addHook('onRequest', async (req, reply) => {
    const need = req.routeOptions.config?.auth;
    if (need === 'public') return;
    if (!need) return; // the 404 handler: no route, nothing to protect
    const key = presentedKey(req.headers.authorization);
    if (signIns.lockedOut(req.ip, Date.now()) && !(key && (recentlyValid.get(key) ?? 0) > Date.now())) {
      authFailures.inc({ reason: 'locked_out' });
      throw new ApiError(429, 'RATE_LIMITED', 'too many failed authentications');
    }
    // Without a key, the console's session cookie (checked against CSRF for state-changing requests).
    const session = key ? undefined : await sessions.find(req);
    const principal = key ? await verifier.verify(key) : session?.principal;
    if (!principal) authFailures.inc({ reason: key ? 'bad_key' : 'no_key' });
    if (!principal && key)
      logFailure(req, key, signIns.fail(req.ip, Date.now()), 'unknown, expired or revoked key');
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
        key
          ? 'unknown, expired or revoked API key'
          : 'send an API key as "Authorization: Bearer <key>", or sign in to the console',
      );
    }
    if (!roleAllows(principal.role, need))
      throw new ApiError(403, 'FORBIDDEN', `this route needs the ${need} role`);
    if (session) checkCsrf(req, session);
    req.principal = principal;
    req.session = session;
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
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
        description:
          'The SOC API of Wardwatch: device inventory and behaviour, alerts, device policies (RFC 8520 MUD), ' +
          'enforcement (quarantine, webhooks, firewall feeds) and administration. Authenticate with ' +
          '`Authorization: Bearer <API key>`.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'Wardwatch API key' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'ww_session',
            description:
              'Console session from POST /v1/session; state-changing requests also send X-CSRF-Token',
          },
        },
      },
      servers: [{ url: '/', description: 'This Wardwatch API (same origin as the console)' }],
      security: [{ apiKey: [] }, { session: [] }],
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

  consoleRoutes(app, ctx, sessions);
  deviceRoutes(app, ctx);
  alertRoutes(app, ctx);
  policyRoutes(app, ctx);
  enforcementRoutes(app, ctx);
  exporterTrustRoutes(app, ctx);
  exporterRoutes(app, ctx);
  groupRoutes(app, ctx);
  webhookRoutes(app, ctx);
  adminRoutes(app, ctx);

  return app as unknown as FastifyInstance;
}
