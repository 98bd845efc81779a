// The API client: openapi-fetch typed by the generated paths, same origin, session cookie, and the
// session's CSRF token on every state-changing request.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from '../gen/api.gen.ts';

export type { components, paths };

type Json<P extends keyof paths, M extends keyof paths[P], S extends number = 200> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends Record<S, { content: { 'application/json': infer B } }>
    ? B
    : never
  : never;

export type Session = Json<'/v1/session', 'get'>;
export type Overview = Json<'/v1/overview', 'get'>;
export type Device = components['schemas']['Device'];
export type DeviceDetail = Json<'/v1/devices/{ip}', 'get'>;
export type Alert = components['schemas']['Alert'];
export type AlertDetail = Json<'/v1/alerts/{id}', 'get'>;
export type Traffic = Json<'/v1/devices/{ip}/traffic', 'get'>;
export type AuditRecord = Json<'/v1/audit', 'get'>['items'][number];
export type Exporter = Json<'/v1/exporters', 'get'>['items'][number];
export type Policy = components['schemas']['Policy'];
export type ApiKey = Json<'/v1/apikeys', 'get'>['items'][number];
export type Webhook = Json<'/v1/webhooks', 'get'>['items'][number];
export type Delivery = Json<'/v1/webhooks/{id}/deliveries', 'get'>['items'][number];
export type DryRun = Json<'/v1/devices/{ip}/quarantine', 'post'>;
export type ExporterTrust = Json<'/v1/exporters/trust', 'get'>['items'][number];
export type QuarantineRequest = Json<'/v1/quarantine-requests', 'get'>['items'][number];
export type EnforcementDecision = Json<'/v1/enforcement/decisions', 'get'>['items'][number];
export type Role = 'viewer' | 'analyst' | 'admin';

let csrfToken: string | null = null;
/** Remembers the session's CSRF token (from sign-in or GET /v1/session). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the API says the session is gone (401): the app shows the sign-in page. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (csrfToken && !['GET', 'HEAD'].includes(request.method))
      request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.endsWith('/v1/session')) onSignedOut();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin, credentials: 'same-origin' });
api.use(csrf);

/** The API's error body as a sentence. */
export function errorText(error: unknown): string {
  const e = (error as { error?: { code?: string; message?: string } } | undefined)?.error;
  return e ? `${e.message ?? ''} (${e.code ?? 'ERROR'})` : 'request failed';
}

/** The data of a response, or throws its error text. */
export async function must<T>(p: Promise<{ data?: T; error?: unknown }>): Promise<T> {
  const r = await p;
  if (r.error !== undefined || r.data === undefined) throw new Error(errorText(r.error));
  return r.data;
}

const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };
/** True when `have` may do what needs `need` (the server enforces it anyway). */
export const can = (have: Role | undefined, need: Role) => have !== undefined && RANK[have] >= RANK[need];
