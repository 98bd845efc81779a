// The analytics worker on the real PostgreSQL, batches handed in directly: offsets stored with the
// models (duplicates skipped, a stale worker fenced), policies, threat intel, analyst overrides, risk.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '@wardwatch/config';
import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { routeByDevice } from '@wardwatch/hospital-sim';
import { type Database, migrate, openDatabase } from '@wardwatch/storage';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';
import { dropSchema, TEST_DATABASE_URL, uniqueName, waitFor } from '@wardwatch/testkit';
import { createMemoryTransport, type Transport } from '@wardwatch/transport';
import { type Analytics, createAnalytics } from './index.ts';
import { applyRecord } from './model/apply-record.ts';
import type { ApplyContext } from './model/device-model.ts';
import { loadModels } from './store/load-models.ts';
import { FencedError } from './store/offsets.ts';
import { arrayLiteral } from './store/sql.ts';
import { batchOf } from './test-support.ts';

const NETS = ['10.0.0.0/8'];
const T0 = Date.now() - 30 * 60_000;
/** Says "kafka" so the worker stores offsets with its models; never started. */
const kafkaLike = { kind: 'kafka' } as unknown as Transport;

function rec(p: Partial<FlowRecord>): FlowRecord {
  return {
    ...createFlowRecord(),
    exporter: '192.0.2.1',
    protocol: 6,
    tcpFlags: 0x1b,
    packets: 10,
    bytes: 4000,
    srcPort: 50000,
    startMs: T0,
    endMs: T0 + 2000,
    ...p,
  };
}

describe('analytics worker on PostgreSQL', () => {
  const schema = uniqueName('an_wrk');
  const dir = mkdtempSync(join(tmpdir(), 'ww-an-'));
  const tiFile = join(dir, 'threat-intel.txt');
  let db: Database;

  function worker(transport: Transport, extra: Record<string, unknown> = {}): Analytics {
    const config = loadConfig({
      env: {},
      overrides: {
        monitoredNetworks: NETS,
        'analytics.groupId': `${schema}-g`,
        'analytics.learningPeriod': '5m',
        'analytics.threatIntelFile': tiFile,
        // Every batch commits before its handler returns (the span-fetches test sets its own interval).
        'analytics.commitInterval': '0s',
        ...extra,
      },
    });
    return createAnalytics({
      config,
      transport,
      db,
      logger: createLogger({ level: 'silent' }),
      registry: createMetricsRegistry(),
    });
  }
  const q = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    (await db.pool.query<T>(sql, params)).rows;

  before(async () => {
    writeFileSync(tiFile, '# test feed\n203.0.113.66\n');
    db = await openDatabase({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 4 });
    await migrate(db);
  });

  after(async () => {
    await db?.close();
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  test('redelivered messages are skipped, and a stale worker is fenced', async () => {
    const records = [
      rec({ srcAddr: '10.1.0.1', dstAddr: '10.1.0.2', dstPort: 443 }),
      rec({ srcAddr: '10.1.0.2', dstAddr: '10.1.0.1', srcPort: 443, dstPort: 50000 }),
      rec({ srcAddr: '10.1.0.1', dstAddr: '10.1.0.99', dstPort: 80, tcpFlags: 0x02, packets: 1, bytes: 40 }),
    ];
    const batch = batchOf(routeByDevice(records, NETS), 3, 0);
    const a = worker(kafkaLike);
    await a.reload();
    await a.handle(batch);
    await a.handle(batch); // redelivered after a lost Kafka commit
    assert.equal(a.counts().duplicates, batch.messages.length);
    const totals = await q<{ ip: string; bytes_sent: number; flows_received: number }>(
      `SELECT host(ip) AS ip, bytes_sent, flows_received FROM devices WHERE ip << '10.1.0.0/24' ORDER BY ip`,
    );
    assert.deepEqual(totals, [
      { ip: '10.1.0.1', bytes_sent: 4040, flows_received: 1 },
      { ip: '10.1.0.2', bytes_sent: 4000, flows_received: 1 },
    ]);
    const [off] = await q<{ next_offset: number }>(
      'SELECT next_offset FROM analytics_offsets WHERE group_id = $1 AND partition = 3',
      [`${schema}-g`],
    );
    assert.equal(off?.next_offset, batch.messages.length);

    // Worker b takes the partition over and commits more; a, still believing it owns it, is fenced.
    const more = batchOf(
      routeByDevice([rec({ srcAddr: '10.1.0.1', dstAddr: '10.1.0.2', dstPort: 443 })], NETS),
      3,
      batch.messages.length,
    );
    const b = worker(kafkaLike);
    await b.reload();
    await b.handle(more);
    await assert.rejects(a.handle(more), FencedError);
    await a.handle(more); // after the fence: reloaded from the database, the batch is a duplicate
    const [one] = await q<{ bytes_sent: number }>(`SELECT bytes_sent FROM devices WHERE ip = '10.1.0.1'`);
    assert.equal(one?.bytes_sent, 8040, 'the second batch counted once');
  });

  test('on Kafka a commit spans fetches: handlers return first, the group commits when due or flushed', async () => {
    const a = worker(kafkaLike, { 'analytics.commitInterval': '1h', 'analytics.commitRecords': 3 });
    await a.reload();
    const one = (ip: string, offset: number) =>
      batchOf(
        routeByDevice([rec({ srcAddr: ip, dstAddr: '10.7.9.9', dstPort: 443 })], ['10.7.0.0/24']),
        12,
        offset,
      );
    const stored = async () =>
      (
        await q<{ n: number; off: number | null }>(
          `SELECT (SELECT count(*)::int FROM devices WHERE ip << '10.7.0.0/24') AS n,
             (SELECT next_offset::int FROM analytics_offsets WHERE group_id = $1 AND partition = 12) AS off`,
          [`${schema}-g`],
        )
      )[0];
    await a.handle(one('10.7.0.1', 0));
    await a.handle(one('10.7.0.2', 1));
    assert.deepEqual(await stored(), { n: 0, off: null }, 'applied, not committed yet');
    // The third record makes the group due: its write starts before the handler returns (and overlaps
    // the next batch's apply).
    await a.handle(one('10.7.0.3', 2));
    await a.handle(one('10.7.0.4', 3));
    await waitFor(
      async () => {
        const st = await stored();
        return st?.n === 3 && st.off === 3 ? true : undefined;
      },
      { what: 'the due group committed', timeoutMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await stored(), { n: 3, off: 3 }, 'the fourth record waits for its own group');
    await a.flush();
    assert.deepEqual(await stored(), { n: 4, off: 4 }, 'flushed with its offset');
    await a.handle(one('10.7.0.4', 3)); // redelivered: a duplicate, not counted twice
    await a.flush();
    const [dev] = await q<{ flows_sent: number }>(`SELECT flows_sent FROM devices WHERE ip = '10.7.0.4'`);
    assert.equal(dev?.flows_sent, 1);
  });

  test('batches of several partitions handed over together commit together, or fail together', async () => {
    const a = worker(kafkaLike);
    await a.reload();
    const one = (ip: string, partition: number, offset: number) =>
      batchOf(
        routeByDevice([rec({ srcAddr: ip, dstAddr: '10.6.9.9', dstPort: 443 })], ['10.6.0.0/24']),
        partition,
        offset,
      );
    await Promise.all([a.handle(one('10.6.0.1', 10, 0)), a.handle(one('10.6.0.2', 11, 0))]);
    const offs = await q<{ partition: number; next_offset: number; updated_at: Date }>(
      'SELECT partition, next_offset, updated_at FROM analytics_offsets WHERE group_id = $1 AND partition IN (10, 11) ORDER BY partition',
      [`${schema}-g`],
    );
    assert.deepEqual(
      offs.map((o) => [o.partition, o.next_offset]),
      [
        [10, 1],
        [11, 1],
      ],
    );
    assert.equal(offs[0]!.updated_at.getTime(), offs[1]!.updated_at.getTime(), 'one transaction');

    // Another worker moves partition 11 on: the next group (10 and 11) is fenced as a whole...
    await q('UPDATE analytics_offsets SET next_offset = 2 WHERE group_id = $1 AND partition = 11', [
      `${schema}-g`,
    ]);
    const results = await Promise.allSettled([
      a.handle(one('10.6.0.1', 10, 1)),
      a.handle(one('10.6.0.2', 11, 1)),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    // ...and delivered again: partition 10's batch counts once, partition 11's is already committed.
    await Promise.all([a.handle(one('10.6.0.1', 10, 1)), a.handle(one('10.6.0.2', 11, 1))]);
    const sent = await q<{ ip: string; flows_sent: number }>(
      `SELECT host(ip) AS ip, flows_sent FROM devices WHERE ip << '10.6.0.0/24' AND flows_sent > 0 ORDER BY ip`,
    );
    assert.deepEqual(sent, [
      { ip: '10.6.0.1', flows_sent: 2 },
      { ip: '10.6.0.2', flows_sent: 1 },
    ]);
  });

  test('array literals round-trip through PostgreSQL', async () => {
    const texts = ['10.0.0.1', '', 'NULL', 'a "quoted" \\ back,slash {x}', '{"k":[1,2]}', 'fe80::1/64', null];
    const [r] = await q<{ t: Array<string | null>; n: number[]; f: number[]; b: boolean[] }>(
      'SELECT $1::text[] AS t, $2::bigint[] AS n, $3::float8[] AS f, $4::bool[] AS b',
      [
        arrayLiteral(texts),
        arrayLiteral([0, -5, 9007199254740991]),
        arrayLiteral([0.1, 1795919709453.5, -2e-7]),
        arrayLiteral([true, false]),
      ],
    );
    assert.deepEqual(r?.t, texts);
    assert.deepEqual(r?.n.map(Number), [0, -5, 9007199254740991]);
    assert.deepEqual(r?.f, [0.1, 1795919709453.5, -2e-7]);
    assert.deepEqual(r?.b, [true, false]);
  });

  test('an address that only receives is not a device', async () => {
    const [row] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM devices WHERE ip = '10.1.0.99'`);
    assert.equal(row?.n, 0);
  });

  test('policies: a flow outside the allowlist raises policy_violation; a quarantine policy quarantines', async () => {
    await q(`INSERT INTO policies (name, rules, action) VALUES ('pump', $1::jsonb, 'quarantine')`, [
      JSON.stringify([
        { peer: { cidr: '10.2.0.10/32' }, ports: [3613], protocol: 6, direction: 'from-device' },
      ]),
    ]);
    await q(
      `INSERT INTO policy_assignments (policy_id, device_ip) SELECT id, '10.2.1.1' FROM policies WHERE name = 'pump'`,
    );
    const a = worker(createMemoryTransport());
    await a.reload();
    await a.handle(
      batchOf(routeByDevice([rec({ srcAddr: '10.2.1.1', dstAddr: '10.2.0.10', dstPort: 3613 })], NETS)),
    );
    assert.equal((await q(`SELECT 1 FROM alerts WHERE device_ip = '10.2.1.1'`)).length, 0, 'allowed traffic');
    await a.handle(
      batchOf(routeByDevice([rec({ srcAddr: '10.2.1.1', dstAddr: '10.2.0.77', dstPort: 22 })], NETS)),
    );
    const [alert] = await q<{
      kind: string;
      severity: string;
      evidence: { violations: Array<{ peer: string; port: number }> };
    }>(`SELECT kind, severity, evidence FROM alerts WHERE device_ip = '10.2.1.1'`);
    assert.equal(alert?.kind, 'policy_violation');
    assert.equal(alert?.severity, 'critical');
    assert.deepEqual(
      alert?.evidence.violations.map((v) => [v.peer, v.port]),
      [['10.2.0.77/32', 22]],
    );
    const [dev] = await q<{ quarantined: boolean; risk: number }>(
      `SELECT quarantined, risk FROM devices WHERE ip = '10.2.1.1'`,
    );
    assert.equal(dev?.quarantined, true);
    assert.ok((dev?.risk ?? 0) >= 40);
    // Deduplicated: a second violation updates the open alert.
    await a.handle(
      batchOf(routeByDevice([rec({ srcAddr: '10.2.1.1', dstAddr: '10.2.0.78', dstPort: 23 })], NETS)),
    );
    const rows = await q<{ occurrences: number }>(
      `SELECT occurrences FROM alerts WHERE device_ip = '10.2.1.1'`,
    );
    assert.deepEqual(rows, [{ occurrences: 2 }]);
  });

  test("policies: a rule's maxBytesPerMinute judges bytes per flow-time minute, across commits", async () => {
    await q(`INSERT INTO policies (name, rules, action) VALUES ('feed', $1::jsonb, 'alert')`, [
      JSON.stringify([
        {
          peer: { cidr: '10.2.2.10/32' },
          ports: [443],
          protocol: 6,
          direction: 'from-device',
          maxBytesPerMinute: 100_000,
        },
      ]),
    ]);
    await q(
      `INSERT INTO policy_assignments (policy_id, device_ip)
       SELECT id, d::inet FROM policies, unnest(ARRAY['10.2.2.1', '10.2.2.2']) AS d WHERE name = 'feed'`,
    );
    const a = worker(createMemoryTransport());
    await a.reload();
    const m0 = T0 - (T0 % 60_000);
    const flow = (src: string, bytes: number, startMs: number, endMs: number) =>
      batchOf(
        routeByDevice(
          [rec({ srcAddr: src, dstAddr: '10.2.2.10', dstPort: 443, bytes, startMs, endMs })],
          NETS,
        ),
      );
    const alerts = (ip: string) =>
      q<{ evidence: { violations: Array<{ reason: string; bytes: number }> } }>(
        `SELECT evidence FROM alerts WHERE device_ip = $1 AND kind = 'policy_violation'`,
        [ip],
      );
    // 80 kB in one minute, over two commits: within the ceiling.
    await a.handle(flow('10.2.2.1', 40_000, m0 + 1000, m0 + 2000));
    await a.handle(flow('10.2.2.1', 40_000, m0 + 3000, m0 + 4000));
    assert.equal((await alerts('10.2.2.1')).length, 0);
    // A third commit brings the same minute to 120 kB: over.
    await a.handle(flow('10.2.2.1', 40_000, m0 + 5000, m0 + 6000));
    const [over] = await alerts('10.2.2.1');
    assert.deepEqual(
      over?.evidence.violations.map((v) => [v.reason, v.bytes]),
      [['over-rate', 120_000]],
    );
    // 400 kB over five minutes is 80 kB a minute: within.
    await a.handle(flow('10.2.2.2', 400_000, m0 + 1000, m0 + 1000 + 5 * 60_000));
    assert.equal((await alerts('10.2.2.2')).length, 0);
  });

  test('contact with a threat-listed address raises threat_intel; the list is re-read when it changes', async () => {
    const a = worker(createMemoryTransport());
    await a.reload();
    await a.handle(
      batchOf(routeByDevice([rec({ srcAddr: '10.3.0.1', dstAddr: '203.0.113.66', dstPort: 443 })], NETS)),
    );
    await a.handle(
      batchOf(routeByDevice([rec({ srcAddr: '10.3.0.2', dstAddr: '192.0.2.200', dstPort: 443 })], NETS)),
    );
    writeFileSync(tiFile, '203.0.113.66\n192.0.2.200\n');
    const r = await a.reload();
    assert.equal(r.threatIntel.status, 'loaded');
    await a.handle(
      batchOf(routeByDevice([rec({ srcAddr: '10.3.0.2', dstAddr: '192.0.2.200', dstPort: 443 })], NETS)),
    );
    const rows = await q<{ ip: string; kind: string }>(
      `SELECT host(device_ip) AS ip, kind FROM alerts WHERE device_ip << '10.3.0.0/24' ORDER BY ip`,
    );
    assert.deepEqual(rows, [
      { ip: '10.3.0.1', kind: 'threat_intel' },
      { ip: '10.3.0.2', kind: 'threat_intel' },
    ]);
  });

  test("an analyst's class wins over inference (an internal-only class contacting the internet)", async () => {
    const a = worker(createMemoryTransport());
    await a.reload();
    const web = (t: number) =>
      batchOf(
        routeByDevice(
          [rec({ srcAddr: '10.4.0.1', dstAddr: '198.51.100.7', dstPort: 443, startMs: t, endMs: t + 100 })],
          NETS,
        ),
      );
    await a.handle(web(T0));
    assert.equal((await q(`SELECT 1 FROM alerts WHERE device_ip = '10.4.0.1'`)).length, 0);
    await q(`UPDATE devices SET class_override = 'infusion_pump' WHERE ip = '10.4.0.1'`);
    await a.reload();
    await a.handle(web(T0 + 1000));
    const rows = await q<{ kind: string }>(`SELECT kind FROM alerts WHERE device_ip = '10.4.0.1'`);
    assert.deepEqual(rows, [{ kind: 'external_contact' }]);
  });

  test('MAC, VLAN, exporter and interface are kept; a MAC moving to another address is tracked', async () => {
    const a = worker(createMemoryTransport());
    await a.reload();
    const mac = '02:00:5e:00:53:01';
    const from = (ip: string, t: number) =>
      batchOf(
        routeByDevice(
          [
            rec({
              srcAddr: ip,
              dstAddr: '10.5.9.9',
              dstPort: 443,
              srcMac: mac,
              srcVlan: 30,
              inputIf: 7,
              startMs: t,
              endMs: t + 10,
            }),
          ],
          NETS,
        ),
      );
    await a.handle(from('10.5.0.1', T0));
    await a.handle(from('10.5.0.2', T0 + 60_000)); // DHCP gave the device a new address
    const rows = await q<{ ip: string; first_seen: Date }>(
      `SELECT host(ip) AS ip, first_seen FROM device_addresses WHERE mac = $1 ORDER BY first_seen`,
      [mac],
    );
    assert.deepEqual(
      rows.map((r) => r.ip),
      ['10.5.0.1', '10.5.0.2'],
    );
    const [dev] = await q<{ mac: string; vlan: number; exporter: string; input_if: number }>(
      `SELECT mac::text, vlan, host(exporter) AS exporter, input_if FROM devices WHERE ip = '10.5.0.2'`,
    );
    assert.deepEqual(dev, { mac, vlan: 30, exporter: '192.0.2.1', input_if: 7 });
  });

  test('the model is in its tables: profile, rollups, baselines, alert rollups', async () => {
    const profile = await q<{ peer: string; service_port: number; direction: string; flows: number }>(
      `SELECT peer::text, service_port, direction, flows FROM device_profiles WHERE device_ip = '10.1.0.1' ORDER BY peer`,
    );
    assert.deepEqual(profile, [{ peer: '10.1.0.2/32', service_port: 443, direction: 'outbound', flows: 3 }]);
    const [r] = await q<{ bytes: number }>(
      `SELECT sum(bytes_out)::int AS bytes FROM device_rollups_minute WHERE device_ip = '10.1.0.1'`,
    );
    assert.equal(r?.bytes, 8040);
    const alerts = await q<{ n: number }>(`SELECT sum(count)::int AS n FROM alert_rollups_minute`);
    assert.ok((alerts[0]?.n ?? 0) >= 4);
  });

  /** A patient monitor (analyst's class) that sent every 30 s for `minutes` from `from`, committed on `partition`. */
  async function monitorOn(a: Analytics, ip: string, partition: number, from: number, minutes: number) {
    const beats: FlowRecord[] = [];
    for (let t = from; t < from + minutes * 60_000; t += 30_000)
      beats.push(
        rec({
          srcAddr: ip,
          dstAddr: '10.0.9.9',
          srcPort: 2000,
          dstPort: 7000,
          protocol: 17,
          startMs: t,
          endMs: t + 100,
        }),
      );
    await a.handle(batchOf(routeByDevice(beats, NETS), partition, 0));
    await q(`UPDATE devices SET class_override = 'patient_monitor' WHERE ip = $1`, [ip]);
    await a.reload();
  }

  test('a record from an exporter whose clock is a year ahead does not move flow time (no silence flood)', async () => {
    const a = worker(kafkaLike);
    await a.reload();
    await monitorOn(a, '10.11.0.1', 20, T0, 8);
    const now = T0 + 8 * 60_000;
    const year = 365 * 86_400_000;
    // Another device behind a router whose clock (or sysUptime) is wrong: received now, stamped next year.
    await a.handle(
      batchOf(
        routeByDevice(
          [
            rec({
              srcAddr: '10.11.0.2',
              dstAddr: '10.0.9.9',
              dstPort: 443,
              exporter: '192.0.2.99',
              startMs: now + year,
              endMs: now + year + 1000,
              receivedMs: now + 10_000,
            }),
          ],
          NETS,
        ),
        20,
        10,
      ),
    );
    const silent = await q(`SELECT 1 FROM alerts WHERE device_ip = '10.11.0.1' AND kind = 'device_silent'`);
    assert.equal(silent.length, 0, 'the monitor is not silent: it sent 10 s ago');
    const [off] = await q<{ wm: Date }>(
      'SELECT flow_watermark AS wm FROM analytics_offsets WHERE group_id = $1 AND partition = 20',
      [`${schema}-g`],
    );
    assert.ok((off?.wm.getTime() ?? 0) <= now + 10_000, `watermark ${off?.wm.toISOString()}`);
    const [dev] = await q<{ last_seen: Date }>(`SELECT last_seen FROM devices WHERE ip = '10.11.0.2'`);
    assert.equal(dev?.last_seen.getTime(), now + 10_000, 'its times were clamped to when it was received');
  });

  /** A worker as a Kafka group member: started, with the assignments the group would hand it. */
  async function member(extra: Record<string, unknown> = {}) {
    let assign: ((partitions: number[]) => Promise<Map<number, string>>) | undefined;
    const transport = {
      kind: 'kafka',
      ensureTopic: async () => {},
      ping: async () => true,
      createSubscriber: async () => ({
        start: async (_t: string, _h: unknown, o?: { onAssign?: typeof assign }) => {
          assign = o?.onAssign;
        },
        seek: () => {},
        close: async () => {},
      }),
    } as unknown as Transport;
    const w = worker(transport, extra);
    await w.start();
    return { w, assign: (partitions: number[]) => assign!(partitions) };
  }

  const alertRow = async (ip: string, kind: string) =>
    (
      await q<{ occurrences: number }>(
        `SELECT occurrences FROM alerts WHERE device_ip = $1 AND kind = $2 AND status <> 'resolved'`,
        [ip, kind],
      )
    )[0];
  const rolledUp = async (kind: string) =>
    (
      await q<{ n: number }>(
        `SELECT COALESCE(sum(count), 0)::int AS n FROM alert_rollups_minute WHERE kind = $1`,
        [kind],
      )
    )[0]?.n;

  test('after a rebalance an open device_silent alert is not raised again', async () => {
    const a = worker(kafkaLike);
    await a.reload();
    await monitorOn(a, '10.12.0.1', 21, T0, 8);
    const other = (t: number, offset: number) =>
      batchOf(
        routeByDevice(
          [rec({ srcAddr: '10.12.0.2', dstAddr: '10.0.9.9', dstPort: 443, startMs: t, endMs: t + 1000 })],
          NETS,
        ),
        21,
        offset,
      );
    await a.handle(other(T0 + 20 * 60_000, 10));
    assert.equal((await alertRow('10.12.0.1', 'device_silent'))?.occurrences, 1);
    const before = await rolledUp('device_silent');
    // The partition moves to another worker: it preloads the partition's models and goes on.
    const b = await member();
    try {
      await b.assign([21]);
      await b.w.handle(other(T0 + 21 * 60_000, 12));
      assert.equal(
        (await alertRow('10.12.0.1', 'device_silent'))?.occurrences,
        1,
        'one silence, one occurrence',
      );
      assert.equal(await rolledUp('device_silent'), before, 'counted once over time');
    } finally {
      await b.w.stop();
    }
  });

  test('after a rebalance a volume spike of a still open bucket is not raised again', async () => {
    const extra = { 'analytics.baselineBucket': '1m', 'analytics.allowedLateness': '1m' };
    const a = worker(kafkaLike, extra);
    await a.reload();
    const ip = '10.13.0.1';
    const M0 = T0 - (T0 % 60_000);
    const send = (t: number, bytes: number) =>
      rec({ srcAddr: ip, dstAddr: '10.0.9.8', dstPort: 443, bytes, startMs: t, endMs: t + 1000 });
    const quiet: FlowRecord[] = [];
    for (let i = 0; i < 10; i++) quiet.push(send(M0 + i * 60_000 + 5000, 1000));
    await a.handle(batchOf(routeByDevice(quiet, NETS), 22, 0));
    const spikeAt = M0 + 10 * 60_000;
    await a.handle(batchOf(routeByDevice([send(spikeAt + 5000, 3_000_000)], NETS), 22, 10));
    assert.equal((await alertRow(ip, 'volume_spike'))?.occurrences, 1);
    const before = await rolledUp('volume_spike');
    const b = await member(extra);
    try {
      await b.assign([22]);
      // More traffic in the same (still open) bucket, on the new owner (from the stored offset on).
      await b.w.handle(batchOf(routeByDevice([send(spikeAt + 20_000, 1000)], NETS), 22, 12));
      assert.equal((await alertRow(ip, 'volume_spike'))?.occurrences, 1, 'one spike, one occurrence');
      assert.equal(await rolledUp('volume_spike'), before, 'counted once over time');
    } finally {
      await b.w.stop();
    }
  });

  test("a reloaded device's open bucket counts a peer it already had once", async () => {
    const first = rec({ srcAddr: '10.9.0.1', dstAddr: '10.9.0.2', dstPort: 443 });
    const a = worker(kafkaLike);
    await a.reload();
    await a.handle(batchOf(routeByDevice([first], NETS), 6, 0));
    // A rebalance or a failed write: the model comes back from the database, its bucket still open.
    const bucketMs = 5 * 60_000;
    const m = (await loadModels(db.pool, { ips: ['10.9.0.1'] }, 5 * 60_000, bucketMs)).get('10.9.0.1');
    assert.ok(m);
    const c: ApplyContext = {
      isInternal: (ip) => ip.startsWith('10.'),
      servicePorts: new Set(),
      maxPeers: 256,
      learningMs: 5 * 60_000,
      scanWindowMs: 60_000,
      isThreat: () => false,
      late: { count: 0 },
      maxSkewMs: 120_000,
      clamped: { count: 0 },
      openFrom: 0,
    };
    applyRecord(m, { ...first, startMs: T0 + 1000, endMs: T0 + 1500 }, c, bucketMs);
    const bucket = m.buckets.get(T0 - (T0 % bucketMs));
    assert.deepEqual([...(bucket?.peers ?? [])], ['10.9.0.2']);
  });
});
