// Array serialisation and time conversions shared by the analytics statements (times travel as epoch
// milliseconds).

const SAFE_ELEMENT = /^[A-Za-z0-9.:/_+-]+$/;

/**
 * A PostgreSQL array literal for a column array (the statement casts it, e.g. `$1::bigint[]`). Much
 * cheaper than the driver's generic per-element conversion on the hot write path: numbers and plain
 * tokens (addresses, CIDRs, names) go in as they are; anything else is quoted and escaped.
 */
export function arrayLiteral(
  values: ReadonlyArray<string | number | boolean | null>,
  from = 0,
  to = values.length,
): string {
  let numeric = true;
  for (let i = from; i < to; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) >= 1e21) {
      numeric = false;
      break;
    }
  }
  // Finite numbers below 1e21 print without exponent or as a float8-readable exponent: join as they are.
  if (numeric) return `{${(from === 0 && to === values.length ? values : values.slice(from, to)).join(',')}}`;
  const parts = new Array<string>(to - from);
  for (let i = from; i < to; i++) {
    const v = values[i];
    const k = i - from;
    if (v === null || v === undefined) parts[k] = 'NULL';
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
      parts[k] = Math.abs(v) < 1e21 ? String(v) : v.toPrecision(17);
    } else if (typeof v === 'boolean') parts[k] = v ? 't' : 'f';
    else if (SAFE_ELEMENT.test(v) && (v.length !== 4 || v.toUpperCase() !== 'NULL')) parts[k] = v;
    else parts[k] = `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return `{${parts.join(',')}}`;
}

/** SQL: a timestamptz column as epoch milliseconds (float8). */
export const ms = (col: string) => `(extract(epoch FROM ${col}) * 1000)::float8`;
/** SQL: epoch milliseconds (0 or less: NULL) as a timestamptz. */
export const ts = (col: string) => `CASE WHEN ${col} > 0 THEN to_timestamp(${col} / 1000.0) END`;
