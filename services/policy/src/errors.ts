/** An error the API reports to the caller as is: an HTTP status and a stable code. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** 404 with a stable code. */
export const notFound = (code: string, message: string) => new ApiError(404, code, message);
/** 400 with a stable code. */
export const badRequest = (code: string, message: string) => new ApiError(400, code, message);
/** 409 with a stable code. */
export const conflict = (code: string, message: string) => new ApiError(409, code, message);

/** PostgreSQL error codes the API maps to 4xx instead of a masked 500. */
export function fromPgError(err: unknown): ApiError | undefined {
  const code = (err as { code?: unknown })?.code;
  if (code === '23505') return conflict('ALREADY_EXISTS', 'a record with this key already exists');
  if (code === '23503') return conflict('REFERENCED', 'the record refers to, or is referred to by, another');
  if (code === '22021' || code === '22P05' || code === '54000')
    return badRequest('BAD_VALUE', 'a value contains characters or a size the database refuses');
  if (code === '22P02' || code === '22007' || code === '22008' || code === '22003')
    return badRequest('BAD_VALUE', 'a value has the wrong format');
  if (code === '23514') return badRequest('BAD_VALUE', 'a value is out of the allowed range');
  return undefined;
}
