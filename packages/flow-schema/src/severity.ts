// The alert severity scale, defined once: analytics raises alerts on it, the store keeps the highest
// of an alert's occurrences, the API filters by it and the alerts table's CHECK constraint lists it.

/** Alert severities, lowest first. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;

/** An alert severity. */
export type Severity = (typeof SEVERITIES)[number];

/** The position of a severity on the scale (info 0 .. critical 4). */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** The severities at or above `min`, lowest first. */
export function severitiesFrom(min: Severity): Severity[] {
  return SEVERITIES.slice(severityRank(min));
}

/** The scale as a PostgreSQL text array literal, for `array_position` comparisons in SQL. */
export const SEVERITY_SQL_ARRAY = `ARRAY[${SEVERITIES.map((s) => `'${s}'`).join(',')}]`;
