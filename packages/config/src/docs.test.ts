import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ENV } from './load.ts';

test('docs/configuration.md documents every environment variable the loader reads', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'configuration.md'), 'utf8');
  const missing = ENV.map(([name]) => name).filter((name) => !doc.includes(`\`${name}\``));
  assert.deepEqual(missing, []);
});
