import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './load.ts';

test('an empty environment gives the documented defaults', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.mode, 'embedded');
  assert.equal(c.api.port, 8080);
  assert.deepEqual(c.collector.udpPorts, [2055, 4739, 6343]);
  assert.equal(c.dataDir, './data');
  assert.ok(c.monitoredNetworks.includes('10.0.0.0/8'));
  assert.ok(Object.isFrozen(c.collector));
});

test('environment overrides the file, and both are validated', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-config-'));
  const file = join(dir, 'wardwatch.yaml');
  writeFileSync(file, 'api:\n  port: 9000\ncollector:\n  udpPorts: [9995]\n');
  const c = loadConfig({
    file,
    env: { WARDWATCH_API_PORT: '9100', WARDWATCH_MONITORED_NETWORKS: '10.20.0.0/16' },
  });
  assert.equal(c.api.port, 9100);
  assert.deepEqual(c.collector.udpPorts, [9995]);
  assert.deepEqual(c.monitoredNetworks, ['10.20.0.0/16']);
});

test('bad values are reported together, with their paths', () => {
  try {
    loadConfig({ env: { WARDWATCH_API_PORT: 'eighty', WARDWATCH_MONITORED_NETWORKS: '10.0.0.0/40' } });
    assert.fail('expected ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /\/api\/port/);
    assert.match(err.message, /10\.0\.0\.0\/40/);
  }
});

test('DATABASE_URL with KAFKA_BROKERS selects cluster mode unless a mode is named', () => {
  const env = { DATABASE_URL: 'postgres://db/ww', KAFKA_BROKERS: 'k1:9092,k2:9092' };
  assert.equal(loadConfig({ env }).mode, 'cluster');
  assert.deepEqual(loadConfig({ env }).kafka.brokers, ['k1:9092', 'k2:9092']);
  assert.equal(loadConfig({ env: { ...env, WARDWATCH_MODE: 'embedded' } }).mode, 'embedded');
});

test('a misspelt key inside a section is an error, not silently ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-config-'));
  const file = join(dir, 'wardwatch.yaml');
  writeFileSync(file, 'collector:\n  udpPort: [9995]\nanalytics:\n  learningPeriode: 15m\n');
  assert.throws(
    () => loadConfig({ file, env: {} }),
    (err: unknown) =>
      err instanceof ConfigError &&
      /\/collector\/udpPort/.test(err.message) &&
      /\/analytics\/learningPeriode/.test(err.message),
  );
});

test('a value outside a set of choices is reported with the choices', () => {
  assert.throws(
    () => loadConfig({ env: { WARDWATCH_MODE: 'clustr', WARDWATCH_DECODE_WORKERS: 'many' } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.includes('/mode: expected one of: "embedded", "cluster" (got "clustr")') &&
      err.message.includes('/collector/decodeWorkers: expected one of: "auto", an integer (got "many")'),
  );
});
