import { randomUUID } from 'node:crypto';

/** The header a caller (or proxy) may set to name its request; echoed on the response. */
export const REQUEST_ID_HEADER = 'x-request-id';

const SAFE_ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The id of an HTTP request, for its log lines and the response's `x-request-id`: the caller's
 * `x-request-id` when it is a safe token, else the W3C trace id of its `traceparent` (so logs and
 * traces meet), else a new UUID. For fastify: `genReqId: (req) => requestIdFor(req.headers)`.
 */
export function requestIdFor(headers: Record<string, string | string[] | undefined>): string {
  const given = headers[REQUEST_ID_HEADER];
  const id = Array.isArray(given) ? given[0] : given;
  if (id !== undefined && SAFE_ID.test(id)) return id;
  const tp = headers.traceparent;
  const m = typeof tp === 'string' ? TRACEPARENT.exec(tp.trim()) : null;
  if (m && m[1] !== '00000000000000000000000000000000') return m[1]!;
  return randomUUID();
}
