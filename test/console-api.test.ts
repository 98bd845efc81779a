// The API's OpenAPI document as client generators see it: every operation has a unique, stable
// operationId, `@redocly/cli lint` (recommended rules) finds no error, and the console's generated API
// types are the ones this document generates (the console is typed from the API, not by hand).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildApp } from '@wardwatch/policy';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';
import { generateApiTypes } from '../packages/console/scripts/gen-api.ts';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const REDOCLY = join(ROOT, 'test', 'node_modules', '.bin', 'redocly');

let doc: { paths: Record<string, Record<string, { operationId?: string }>> };
let dir: string;

before(async () => {
  // The document needs no database: a pool that is never queried.
  const app = await buildApp({
    db: { kind: 'postgres', pool: {} } as never,
    logger: createLogger({ level: 'silent' }),
    registry: createMetricsRegistry({ defaultMetrics: false }),
  });
  await app.ready();
  doc = app.swagger() as typeof doc;
  await app.close();
  dir = mkdtempSync(join(tmpdir(), 'ww-openapi-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('every operation has a unique operationId, and the known ones keep their names', () => {
  const ids: string[] = [];
  const missing: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops)) {
      if (op.operationId) ids.push(op.operationId);
      else missing.push(`${method} ${path}`);
    }
  assert.deepEqual(missing, []);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  assert.ok(ids.length >= 50, `${ids.length} operations`);
  assert.equal(doc.paths['/v1/devices']?.['get']?.operationId, 'listDevices');
  assert.equal(doc.paths['/v1/devices/{ip}/quarantine']?.['post']?.operationId, 'quarantineDevice');
  assert.equal(doc.paths['/v1/alerts/{id}/acknowledge']?.['post']?.operationId, 'acknowledgeAlert');
});

test('@redocly/cli lint with the recommended rules reports no error', async () => {
  const file = join(dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(doc));
  // Exits non-zero on any error; warnings are printed but allowed. No telemetry, no update check.
  const { stdout, stderr } = await run(
    REDOCLY,
    ['lint', file, '--extends', 'recommended', '--format', 'summary'],
    {
      env: {
        ...process.env,
        REDOCLY_TELEMETRY: 'off',
        REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        NO_COLOR: '1',
      },
      timeout: 120_000,
    },
  );
  const out = `${stdout}${stderr}`;
  assert.match(out, /Your API description is valid/);
  assert.doesNotMatch(out, /^error /m);
});

test("the console's API types are generated from this document (packages/console/src/gen/api.gen.ts)", async () => {
  const committed = readFileSync(join(ROOT, 'packages', 'console', 'src', 'gen', 'api.gen.ts'), 'utf8');
  assert.ok(
    committed === (await generateApiTypes()),
    'stale: run `pnpm --filter @wardwatch/console gen` and commit src/gen/api.gen.ts',
  );
});
