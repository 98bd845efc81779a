import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SEVERITIES, SEVERITY_SQL_ARRAY, severitiesFrom, severityRank } from './severity.ts';

test('the scale orders severities', () => {
  assert.deepEqual(
    SEVERITIES.map((s) => severityRank(s)),
    [0, 1, 2, 3, 4],
  );
  assert.ok(severityRank('high') > severityRank('low'));
  assert.deepEqual(severitiesFrom('high'), ['high', 'critical']);
  assert.deepEqual(severitiesFrom('info'), [...SEVERITIES]);
  assert.equal(SEVERITY_SQL_ARRAY, "ARRAY['info','low','medium','high','critical']");
});

test("the alerts table's CHECK constraint (an applied migration, so not generated) lists the same scale", () => {
  const dir = new URL('../../storage/migrations/', import.meta.url);
  const checks = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .flatMap((f) => [...readFileSync(new URL(f, dir), 'utf8').matchAll(/severity IN \(([^)]*)\)/g)])
    .map((m) => m[1]!.split(',').map((s) => s.trim().replace(/'/g, '')));
  assert.ok(checks.length > 0, 'a severity CHECK constraint exists');
  for (const c of checks) assert.deepEqual(c, [...SEVERITIES]);
});
