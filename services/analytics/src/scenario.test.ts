// The hospital scenario as flow records straight into one analytics worker, on the real PostgreSQL and on
// embedded PGlite (no exporter, no Kafka): classes, the alerts of every injected attack, none on clean devices.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '@wardwatch/config';
import { createScenario, routeByDevice } from '@wardwatch/hospital-sim';
import { type Database, migrate, openDatabase } from '@wardwatch/storage';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '@wardwatch/testkit';
import { createMemoryTransport } from '@wardwatch/transport';
import { createAnalytics } from './index.ts';
import { batchOf } from './test-support.ts';

function scenarioOn(kind: 'postgres' | 'pglite') {
  const schema = uniqueName('an_scn');
  const scenario = createScenario({ seed: 7 });
  const dataDir = mkdtempSync(join(tmpdir(), 'ww-an-scn-'));
  let db: Database;

  before(async () => {
    db = await openDatabase(
      kind === 'postgres'
        ? { kind, url: TEST_DATABASE_URL, schema, poolSize: 2 }
        : { kind, dataDir, schema: 'wardwatch' },
    );
    await migrate(db);
    const config = loadConfig({
      env: {},
      overrides: {
        monitoredNetworks: scenario.monitoredNetworks,
        'analytics.learningPeriod': '15m',
        'analytics.baselineBucket': '1m',
        'analytics.exfilMinBytes': 5_000_000,
      },
    });
    const analytics = createAnalytics({
      config,
      transport: createMemoryTransport(),
      db,
      logger: createLogger({ level: 'warn' }),
      registry: createMetricsRegistry(),
    });
    await analytics.reload();
    // Five-minute windows, like an exporter with a five-minute active timeout.
    let offset = 0;
    for (const [from, to] of scenario.windows(5 * 60_000)) {
      const batch = batchOf(routeByDevice(scenario.records(from, to), scenario.monitoredNetworks), 0, offset);
      offset += batch.messages.length;
      await analytics.handle(batch);
    }
  });

  after(async () => {
    await db?.close();
    if (kind === 'postgres') await dropSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('at least 90% of the devices get their class', async (t) => {
    const { rows } = await db.pool.query<{ ip: string; class: string; class_confidence: number }>(
      'SELECT host(ip) AS ip, class, class_confidence FROM devices',
    );
    const got = new Map(rows.map((r) => [r.ip, r.class]));
    assert.equal(
      rows.length,
      scenario.devices.length,
      'every simulated device, and nothing else, is a device',
    );
    const wrong = scenario.devices.filter((d) => got.get(d.ip) !== d.class);
    const right = scenario.devices.length - wrong.length;
    t.diagnostic(`classified right: ${right}/${scenario.devices.length}`);
    for (const d of wrong)
      t.diagnostic(`wrong: ${d.name} (${d.ip}) is ${d.class}, classified ${got.get(d.ip)}`);
    assert.ok(
      right / scenario.devices.length >= 0.9,
      `right ${right}/${scenario.devices.length}; wrong: ${wrong.map((d) => `${d.name} ${d.class}->${got.get(d.ip)}`).join(', ')}`,
    );
  });

  test('every injected attack raises its alert on its device; clean devices raise none', async (t) => {
    const { rows } = await db.pool.query<{ ip: string; kind: string }>(
      'SELECT host(device_ip) AS ip, kind FROM alerts',
    );
    const have = new Set(rows.map((r) => `${r.ip} ${r.kind}`));
    t.diagnostic(`alerts: ${[...have].sort().join(', ')}`);
    for (const e of scenario.expectedAlerts) {
      assert.ok(
        have.has(`${e.device} ${e.kind}`),
        `${e.kind} on ${e.device} (${e.description}); got ${[...have].join(', ')}`,
      );
    }
    const clean = new Set(scenario.cleanDevices().map((d) => d.ip));
    const noisy = rows.filter((r) => clean.has(r.ip));
    assert.deepEqual(noisy, [], 'alerts on clean devices');
  });
}

describe('hospital scenario through one worker (records, real PostgreSQL)', () => scenarioOn('postgres'));
describe('hospital scenario through one worker (records, embedded PGlite)', () => scenarioOn('pglite'));
