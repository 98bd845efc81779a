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

test('a CIDR the device matcher would misread or reject is a config error (one parser for both)', () => {
  // 010.0.0.0 is octal (8.0.0.0) to some parsers and decimal to others; the old regex let it through
  // and the matcher then read it as 8.0.0.0/8. 1:::2 is no IPv6 address at all.
  for (const bad of ['010.0.0.0/8', '1:::2/64', 'fe80::1%eth0/64', '10.0.0/8']) {
    assert.throws(
      () => loadConfig({ env: { WARDWATCH_MONITORED_NETWORKS: bad } }),
      (err: unknown) =>
        err instanceof ConfigError && err.message.includes(`${JSON.stringify(bad)} is not a CIDR`),
      bad,
    );
  }
  const c = loadConfig({ env: { WARDWATCH_MONITORED_NETWORKS: '10.0.0.0/8,fd00::/8,::ffff:10.1.0.0/112' } });
  assert.deepEqual([...c.monitoredNetworks], ['10.0.0.0/8', 'fd00::/8', '::ffff:10.1.0.0/112']);
});

test('durations: written with a unit or as milliseconds, validated to milliseconds once, never clamped', () => {
  const c = loadConfig({
    env: { WARDWATCH_LEARNING_PERIOD: '15m', WARDWATCH_ANALYTICS_COMMIT_INTERVAL: '250' },
    overrides: { 'analytics.scanWindow': '2s', 'analytics.silenceAfter': 90_000 },
  });
  assert.equal(c.analytics.learningPeriod, 15 * 60_000);
  assert.equal(c.analytics.commitInterval, 250);
  assert.equal(c.analytics.scanWindow, 2000);
  assert.equal(c.analytics.silenceAfter, 90_000);
  assert.equal(c.analytics.baselineBucket, 5 * 60_000, 'default 5m');
  assert.equal(c.analytics.maxClockSkew, 2 * 60_000, 'default 2m');
  // Below a minimum is an error (it used to be raised silently to the minimum), as is a unit typo.
  assert.throws(
    () =>
      loadConfig({
        env: { WARDWATCH_BASELINE_BUCKET: '30s', WARDWATCH_LEARNING_PERIOD: '7days' },
        overrides: { 'analytics.reloadInterval': '500ms' },
      }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.includes('/analytics/baselineBucket: must be at least 60000 ms (got 30000)') &&
      err.message.includes('/analytics/reloadInterval: must be at least 1000 ms (got 500)') &&
      err.message.includes(
        '/analytics/learningPeriod: expected a duration such as 500ms, 30s, 5m, 2h or 7d, or milliseconds (got "7days")',
      ) &&
      err.problems.length === 3,
  );
});

test('an empty port list variable means no port: WARDWATCH_TCP_PORTS= turns IPFIX over TCP off', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-config-'));
  const file = join(dir, 'wardwatch.yaml');
  writeFileSync(file, 'collector:\n  tcpPorts: [4739, 4740]\n');
  assert.deepEqual(loadConfig({ env: {} }).collector.tcpPorts, [4739]);
  assert.deepEqual(loadConfig({ env: { WARDWATCH_TCP_PORTS: '' } }).collector.tcpPorts, []);
  assert.deepEqual(loadConfig({ file, env: { WARDWATCH_TCP_PORTS: ' ' } }).collector.tcpPorts, []);
  assert.deepEqual(loadConfig({ file, env: {} }).collector.tcpPorts, [4739, 4740]);
  // UDP cannot be turned off: an empty list is refused, not replaced by the default.
  assert.throws(
    () => loadConfig({ env: { WARDWATCH_UDP_PORTS: '' } }),
    (e: unknown) => e instanceof ConfigError && /\/collector\/udpPorts/.test(e.message),
  );
});

test('an empty variable of any other kind is unset: the file or the default applies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-config-'));
  const file = join(dir, 'wardwatch.yaml');
  writeFileSync(file, 'collector:\n  exporterAllowlist: [192.0.2.0/24]\napi:\n  port: 9000\n');
  const c = loadConfig({
    file,
    env: {
      // An empty allowlist would admit every exporter: an empty variable must not widen the file's list.
      WARDWATCH_EXPORTER_ALLOWLIST: '',
      KAFKA_BROKERS: '',
      WARDWATCH_MONITORED_NETWORKS: '',
      WARDWATCH_API_PORT: '',
      DATABASE_URL: '',
    },
  });
  assert.deepEqual(c.collector.exporterAllowlist, ['192.0.2.0/24']);
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
  assert.ok(c.monitoredNetworks.includes('10.0.0.0/8'));
  assert.equal(c.api.port, 9000);
  assert.equal(c.mode, 'embedded');
});
