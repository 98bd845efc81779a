// Exactly once: an analytics worker (the real `wardwatch start --service analytics` process) consumes
// hospital flows from the real Kafka into the real PostgreSQL while it is killed with SIGKILL twice,
// mid-stream, and restarted. Afterwards every device's totals and minute rollups equal what the records
// add up to (nothing lost, nothing counted twice) and the stored offsets are at the end of every partition.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeFlowBatch, type FlowRecord, Topics } from '@wardwatch/flow-schema';
import { createScenario, routeByDevice } from '@wardwatch/hospital-sim';
import { dropSchema, TEST_DATABASE_URL, TEST_KAFKA_BROKERS, uniqueName, waitFor } from '@wardwatch/testkit';
import { createKafkaTransport, type TransportMessage } from '@wardwatch/transport';
import pg from 'pg';

const ROOT = join(import.meta.dirname, '..');
const PARTITIONS = 4;

interface Totals {
  bytesSent: number;
  packetsSent: number;
  flowsSent: number;
  bytesReceived: number;
  packetsReceived: number;
  flowsReceived: number;
}

/** What the inventory must show: every address that sent, with everything routed to it. */
function expectedTotals(routed: Array<[string, FlowRecord]>): Map<string, Totals> {
  const all = new Map<string, Totals>();
  const senders = new Set<string>();
  for (const [device, r] of routed) {
    let t = all.get(device);
    if (!t) {
      t = {
        bytesSent: 0,
        packetsSent: 0,
        flowsSent: 0,
        bytesReceived: 0,
        packetsReceived: 0,
        flowsReceived: 0,
      };
      all.set(device, t);
    }
    if (r.srcAddr === device) {
      senders.add(device);
      t.bytesSent += r.bytes;
      t.packetsSent += r.packets;
      t.flowsSent += 1;
    } else {
      t.bytesReceived += r.bytes;
      t.packetsReceived += r.packets;
      t.flowsReceived += 1;
    }
  }
  for (const d of [...all.keys()]) if (!senders.has(d)) all.delete(d);
  return all;
}

describe('analytics exactly once across worker crashes (real Kafka, PostgreSQL, worker processes)', () => {
  const schema = uniqueName('an_eo');
  const prefix = `${schema}.`;
  const group = `${schema}-analytics`;
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  const transport = createKafkaTransport({
    brokers: TEST_KAFKA_BROKERS,
    clientId: 'eo-test',
    topicPrefix: prefix,
  });
  const children = new Set<ChildProcess>();
  const logs: string[] = [];
  const routed: Array<[string, FlowRecord]> = [];
  const messages: TransportMessage[] = [];

  // Two consecutive 45-minute periods of the hospital, as one-minute exports: thousands of messages.
  for (const startMs of [Date.now() - 100 * 60_000, Date.now() - 55 * 60_000]) {
    const s = createScenario({ seed: 11, startMs: Math.floor(startMs / 60_000) * 60_000 });
    for (const [from, to] of s.windows(60_000)) {
      for (const [device, records] of routeByDevice(s.records(from, to), s.monitoredNetworks)) {
        for (const r of records) routed.push([device, r]);
        messages.push({
          key: device,
          value: encodeFlowBatch(records, new Array(records.length).fill(device)),
        });
      }
    }
  }

  function startWorker(env: Record<string, string> = {}): ChildProcess {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'cli/src/main.ts'), 'start', '--service', 'analytics'],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          KAFKAJS_NO_PARTITIONER_WARNING: '1',
          WARDWATCH_MODE: 'cluster',
          DATABASE_URL: TEST_DATABASE_URL,
          KAFKA_BROKERS: TEST_KAFKA_BROKERS.join(','),
          WARDWATCH_DB_SCHEMA: schema,
          WARDWATCH_TOPIC_PREFIX: prefix,
          WARDWATCH_ANALYTICS_GROUP: group,
          WARDWATCH_FLOW_PARTITIONS: String(PARTITIONS),
          WARDWATCH_MONITORED_NETWORKS: '10.0.0.0/8',
          WARDWATCH_LEARNING_PERIOD: '15m',
          WARDWATCH_BASELINE_BUCKET: '1m',
          WARDWATCH_LOG_LEVEL: 'info',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (d: Buffer) => {
      logs.push(String(d));
      if (logs.length > 2000) logs.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  }

  async function committed(inSchema = schema, ofGroup = group): Promise<number> {
    const { rows } = await client.query<{ n: string | null }>(
      `SELECT sum(next_offset)::text AS n FROM "${inSchema}".analytics_offsets WHERE group_id = $1`,
      [ofGroup],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Every device's totals in `inSchema` equal what the routed records add up to. */
  async function assertTotals(inSchema: string): Promise<void> {
    const want = expectedTotals(routed);
    const { rows } = await client.query<Totals & { ip: string }>(
      `SELECT host(ip) AS ip, bytes_sent AS "bytesSent", packets_sent AS "packetsSent", flows_sent AS "flowsSent",
         bytes_received AS "bytesReceived", packets_received AS "packetsReceived", flows_received AS "flowsReceived"
       FROM "${inSchema}".devices ORDER BY ip`,
    );
    const got = new Map(
      rows.map(({ ip, ...rest }) => [
        ip,
        Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, Number(v)])),
      ]),
    );
    assert.equal(got.size, want.size, 'devices');
    for (const [ip, totals] of want) assert.deepEqual(got.get(ip), totals, `totals of ${ip}`);
  }

  async function kill(child: ChildProcess): Promise<void> {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    await client.connect();
    await transport.ensureTopic(Topics.flows, PARTITIONS);
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await transport.close();
    await client.end();
    await dropSchema(schema);
  });

  test('killing the worker twice mid-stream neither loses nor double-counts', {
    timeout: 300_000,
  }, async (t) => {
    const publisher = await transport.createPublisher();
    // Publish in chunks over about a minute while the workers run, so every kill lands mid-stream (a
    // restarted worker waits up to the 30 s session timeout for the killed member to leave the group).
    let published = 0;
    const publishing = (async () => {
      for (let i = 0; i < messages.length; i += 60) {
        const chunk = messages.slice(i, i + 60);
        await publisher.publish(Topics.flows, chunk);
        published += chunk.length;
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const total = messages.length;
    t.diagnostic(`${total} messages, ${routed.length} routed records`);

    let worker = startWorker();
    const first = await waitFor(
      async () => ((await committed().catch(() => 0)) >= total * 0.1 ? true : undefined),
      {
        what: 'the first worker committing some batches',
        timeoutMs: 120_000,
        intervalMs: 20,
      },
    );
    assert.ok(first);
    await kill(worker);
    const atFirstKill = await committed();
    t.diagnostic(`first kill after ${atFirstKill} committed offsets (${published} published)`);

    worker = startWorker();
    await waitFor(async () => ((await committed()) >= atFirstKill + total * 0.05 ? true : undefined), {
      what: 'the second worker resuming',
      timeoutMs: 120_000,
      intervalMs: 20,
    });
    await kill(worker);
    const atSecondKill = await committed();
    t.diagnostic(`second kill after ${atSecondKill} committed offsets (${published} published)`);
    assert.ok(atSecondKill < total, 'the second kill landed before the end of the stream');

    worker = startWorker();
    await publishing;
    await publisher.close();
    await waitFor(async () => ((await committed()) === total ? true : undefined), {
      what: 'every message committed',
      timeoutMs: 180_000,
      intervalMs: 100,
    });
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.kill('SIGTERM');
    await exited;

    const text = logs.join('');
    t.diagnostic(
      `workers resumed ${text.split('resuming from stored offsets').length - 1} times; ` +
        `${text.split('skipped messages already committed').length - 1} redelivered batches filtered`,
    );

    await assertTotals(schema);
    const want = expectedTotals(routed);

    // Minute rollups add up to the same totals.
    const rollups = await client.query<{ ip: string; bo: string; bi: string; fl: string }>(
      `SELECT host(device_ip) AS ip, sum(bytes_out)::text AS bo, sum(bytes_in)::text AS bi, sum(flows)::text AS fl
       FROM "${schema}".device_rollups_minute GROUP BY device_ip`,
    );
    for (const r of rollups.rows) {
      const w = want.get(r.ip)!;
      assert.equal(Number(r.bo), w.bytesSent, `rollup bytes out of ${r.ip}`);
      assert.equal(Number(r.bi), w.bytesReceived, `rollup bytes in of ${r.ip}`);
      assert.equal(Number(r.fl), w.flowsSent + w.flowsReceived, `rollup flows of ${r.ip}`);
    }
    assert.equal(rollups.rows.length, want.size);
  });

  test('a failed database write after records were handed back: the worker seeks back to the stored offsets', {
    timeout: 300_000,
  }, async (t) => {
    // A second group over the same topic (every message is there now) into its own schema; its commits
    // span fetches (1 s). The rollups table disappears for a few seconds, so commits fail after their
    // batches were handed back to Kafka: the worker must read them again from the stored offsets.
    const schema2 = `${schema}_b`;
    const group2 = `${group}-b`;
    const total = messages.length;
    const start = logs.length;
    const worker = startWorker({
      WARDWATCH_DB_SCHEMA: schema2,
      WARDWATCH_ANALYTICS_GROUP: group2,
      WARDWATCH_ANALYTICS_COMMIT_INTERVAL: '1s',
    });
    try {
      await waitFor(
        async () => (logs.slice(start).join('').includes('partitions assigned') ? true : undefined),
        {
          what: 'the worker joining the group',
          timeoutMs: 120_000,
        },
      );
      await client.query(`ALTER TABLE "${schema2}".device_rollups_minute RENAME TO rollups_away`);
      await new Promise((r) => setTimeout(r, 4000));
      await client.query(`ALTER TABLE "${schema2}".rollups_away RENAME TO device_rollups_minute`);
      await waitFor(async () => ((await committed(schema2, group2)) === total ? true : undefined), {
        what: 'every message committed after the failed writes',
        timeoutMs: 180_000,
        intervalMs: 100,
      });
      const text = logs.slice(start).join('');
      const rewinds = text.split('reading again from the stored offsets').length - 1;
      t.diagnostic(`${rewinds} rewinds`);
      assert.ok(rewinds >= 1, 'the failed commit made the worker seek back');
      await assertTotals(schema2);
    } finally {
      worker.kill('SIGKILL');
      await dropSchema(schema2);
    }
  });

  test('a second worker joins mid-stream and the first leaves: commits spanning fetches stay exact', {
    timeout: 300_000,
  }, async (t) => {
    // Its own topic (prefix), schema and group; published over about a minute while the workers run.
    const schema3 = `${schema}_c`;
    const prefix3 = `${schema3}.`;
    const group3 = `${group}-c`;
    const total = messages.length;
    const start = logs.length;
    const transport3 = createKafkaTransport({
      brokers: TEST_KAFKA_BROKERS,
      clientId: 'eo-test-c',
      topicPrefix: prefix3,
    });
    const env = {
      WARDWATCH_DB_SCHEMA: schema3,
      WARDWATCH_TOPIC_PREFIX: prefix3,
      WARDWATCH_ANALYTICS_GROUP: group3,
      WARDWATCH_ANALYTICS_COMMIT_INTERVAL: '1s',
    };
    const workers: ChildProcess[] = [];
    try {
      await transport3.ensureTopic(Topics.flows, PARTITIONS);
      const publisher = await transport3.createPublisher();
      const publishing = (async () => {
        for (let i = 0; i < messages.length; i += 60) {
          await publisher.publish(Topics.flows, messages.slice(i, i + 60));
          await new Promise((r) => setTimeout(r, 1000));
        }
      })();
      workers.push(startWorker(env));
      await waitFor(async () => ((await committed(schema3, group3)) >= total * 0.1 ? true : undefined), {
        what: 'the first worker committing',
        timeoutMs: 120_000,
        intervalMs: 100,
      });
      workers.push(startWorker(env));
      const assigned = () => logs.slice(start).join('').split('partitions assigned').length - 1;
      await waitFor(async () => (assigned() >= 3 ? true : undefined), {
        what: 'the rebalance after the second worker joined',
        timeoutMs: 120_000,
      });
      const atJoin = await committed(schema3, group3);
      t.diagnostic(`second worker joined after ${atJoin} of ${total} messages committed`);
      assert.ok(atJoin < total, 'the second worker joined mid-stream');
      // The first worker leaves gracefully: its partitions move to the second one.
      const first = workers[0]!;
      const exited = new Promise<void>((r) => first.once('exit', () => r()));
      first.kill('SIGTERM');
      await exited;
      await publishing;
      await publisher.close();
      await waitFor(async () => ((await committed(schema3, group3)) === total ? true : undefined), {
        what: 'every message committed by the remaining worker',
        timeoutMs: 180_000,
        intervalMs: 100,
      });
      await assertTotals(schema3);
    } finally {
      for (const w of workers) w.kill('SIGKILL');
      await transport3.close();
      await dropSchema(schema3);
    }
  });
});
