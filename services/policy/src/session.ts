import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Principal, Role } from './api-keys.ts';
import { ApiError } from './errors.ts';

/** The console's session cookie: HttpOnly, SameSite=Strict, Secure under TLS. */
export const SESSION_COOKIE = 'ww_session';
/** The header a cookie-authenticated state-changing request must carry (the session's CSRF token). */
export const CSRF_HEADER = 'x-csrf-token';
/** How long a console session lasts at most (never past its key's expiry). */
export const SESSION_HOURS = 12;

/** A live console session. */
export interface Session {
  principal: Principal;
  csrfToken: string;
  expiresAt: Date;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session id in the request's cookie header, or undefined. */
export function sessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) {
      const v = part.slice(i + 1).trim();
      return /^[A-Za-z0-9_-]{20,100}$/.test(v) ? v : undefined;
    }
  }
  return undefined;
}

function cookieHeader(req: FastifyRequest, value: string, maxAgeSeconds: number): string {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

/**
 * Console sessions in PostgreSQL (every replica sees a sign-out at once). A session acts as its API key:
 * the key's current role, and nothing once the key is revoked or expired.
 */
export function createSessionStore(pool: pg.Pool) {
  return {
    /** Opens a session for a verified key; sets the cookie on `reply`. */
    async open(req: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<Session> {
      const id = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(32).toString('base64url');
      const { rows } = await pool.query<{ expires_at: Date }>(
        `INSERT INTO console_sessions (id_hash, key_id, csrf_token, expires_at, source_ip)
         SELECT $1, k.id, $2, LEAST(now() + make_interval(hours => $3), COALESCE(k.expires_at, 'infinity')), $4
         FROM api_keys k WHERE k.id = $5
         RETURNING expires_at`,
        [sha256(id), csrfToken, SESSION_HOURS, req.ip, principal.keyId],
      );
      const expiresAt = rows[0]!.expires_at;
      // Expired rows are cleared as new sessions open (no timer needed).
      pool.query('DELETE FROM console_sessions WHERE expires_at < now()').catch(() => {});
      const maxAge = Math.max(1, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
      reply.header('set-cookie', cookieHeader(req, id, maxAge));
      return { principal, csrfToken, expiresAt };
    },

    /** The live session named by the request's cookie, or undefined. */
    async find(req: FastifyRequest): Promise<Session | undefined> {
      const id = sessionCookie(req.headers.cookie);
      if (!id) return undefined;
      const { rows } = await pool.query<{
        key_id: string;
        name: string;
        role: Role;
        csrf_token: string;
        expires_at: Date;
      }>(
        `SELECT k.id AS key_id, k.name, k.role, s.csrf_token, s.expires_at
         FROM console_sessions s JOIN api_keys k ON k.id = s.key_id
         WHERE s.id_hash = $1 AND s.expires_at > now()
           AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
        [sha256(id)],
      );
      const r = rows[0];
      return r
        ? {
            principal: { keyId: r.key_id, name: r.name, role: r.role },
            csrfToken: r.csrf_token,
            expiresAt: r.expires_at,
          }
        : undefined;
    },

    /** Ends the request's session server-side and clears the cookie. */
    async close(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
      reply.header('set-cookie', cookieHeader(req, '', 0));
      const id = sessionCookie(req.headers.cookie);
      if (!id) return false;
      const { rowCount } = await pool.query('DELETE FROM console_sessions WHERE id_hash = $1', [sha256(id)]);
      return (rowCount ?? 0) > 0;
    },
  };
}

/** The session store's interface. */
export type SessionStore = ReturnType<typeof createSessionStore>;

/**
 * CSRF defence for cookie-authenticated requests: SameSite=Strict keeps other sites' requests from
 * carrying the cookie, and every state-changing request must also echo the session's token in
 * `X-CSRF-Token`, which a page of another origin cannot read.
 */
export function checkCsrf(req: FastifyRequest, session: Session): void {
  if (SAFE_METHODS.has(req.method)) return;
  const sent = req.headers[CSRF_HEADER];
  const a = Buffer.from(typeof sent === 'string' ? sent : '');
  const b = Buffer.from(session.csrfToken);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    throw new ApiError(
      403,
      'CSRF_FAILED',
      `a request signed in by cookie must send the ${CSRF_HEADER} header`,
    );
}
