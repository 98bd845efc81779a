// Request parameters the routes share: opaque paging cursors and client timestamps.
import { ApiError } from './errors.ts';

/** Opaque cursors: base64url JSON of the sort key of the last item served. */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** Decodes a cursor, or undefined when it is not one of ours. */
export function decodeCursor(cursor: string): unknown[] | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A client-supplied timestamp as a Date; a 400 when JavaScript cannot represent it. */
export function parseTime(s: string, field: string): Date {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new ApiError(400, 'BAD_TIME', `${field} is not a usable timestamp`);
  return d;
}
