// Fault test: the Kafka broker stops for 30 s while a steady NetFlow v9 stream flows. The collector keeps
// reading, buffers up to its bound, drops beyond it with a counter, and recovers by itself when the broker
// returns; afterwards `records received = records in Kafka + records counted as dropped`, exactly. With a
// disk spool configured, the same outage drops nothing.
// Uses its own broker on another port (never the shared one), started with deploy/kafka-local/kafka.sh.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Collector, createCollector } from '@wardwatch/collector';
import { loadConfig } from '@wardwatch/config';
import { decodeFlowBatch, Topics } from '@wardwatch/flow-schema';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';
import { uniqueName, waitFor } from '@wardwatch/testkit';
import { createKafkaTransport, type Transport } from '@wardwatch/transport';
import { Kafka, logLevel } from 'kafkajs';
import { v9DataPacket, v9TemplatePacket } from './support/netflow-v9.ts';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const script = join(repo, 'deploy/kafka-local/kafka.sh');
const OUTAGE_MS = 30_000;
const PACKETS_PER_S = 200;
const RECORDS_PER_PACKET = 10;

async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    if (port >= 65535) continue;
    const t = createServer();
    const ok = await new Promise<boolean>((r) => {
      t.once('error', () => r(false));
      t.listen(port + 1, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise<void>((r) => t.close(() => r()));
      return port;
    }
  }
  throw new Error('no two adjacent free ports for the test broker');
}

const home = mkdtempSync(join(tmpdir(), 'ww-kafka-fault-'));
let port = 0;
const broker = (cmd: 'start' | 'stop') =>
  run('bash', [script, cmd], {
    env: { ...process.env, KAFKA_HOME_DIR: home, KAFKA_PORT: String(port) },
    timeout: 120_000,
  });

let transport: Transport;
let collector: Collector;

before(async () => {
  port = await freePortPair();
  // Reuse the jars of the shared broker's directory when complete, instead of resolving them again
  // (kafka.sh resolves them from Maven Central otherwise).
  const libs = join(repo, '.kafka/libs');
  if (existsSync(join(libs, '.complete'))) cpSync(libs, join(home, 'libs'), { recursive: true });
  await broker('start');
});

after(async () => {
  await collector?.stop().catch(() => {});
  await transport?.close().catch(() => {});
  await broker('stop').catch(() => {});
  rmSync(home, { recursive: true, force: true });
});

/**
 * Runs a steady v9 stream through a collector, stops the broker for `outageMs` mid-stream, starts it
 * again, and returns the collector's accounting and what Kafka really holds.
 */
async function outage(outageMs: number, extra: Record<string, unknown>) {
  const prefix = `${uniqueName('fault')}.`;
  const brokers = [`127.0.0.1:${port}`];
  const config = loadConfig({
    env: {},
    overrides: {
      mode: 'cluster',
      monitoredNetworks: ['10.0.0.0/8'],
      'kafka.brokers': brokers,
      'kafka.topicPrefix': prefix,
      'kafka.flowPartitions': 4,
      'collector.host': '127.0.0.1',
      'collector.udpPorts': [0],
      'collector.tcpPorts': [],
      'collector.lingerMs': 20,
      'collector.decodeWorkers': 1,
      // Small enough that 30 s of this stream overflows it: both buffering and counted drops happen.
      'collector.bufferBytes': 1 << 20,
      'collector.retryInitialMs': 100,
      'collector.retryMaxMs': 1000,
      logLevel: 'error',
      ...extra,
    },
  });
  transport = createKafkaTransport({ brokers, clientId: 'fault-test', topicPrefix: prefix });
  collector = createCollector({
    config,
    transport,
    logger: createLogger({ level: 'fatal' }),
    registry: createMetricsRegistry({ defaultMetrics: false }),
  });
  await collector.start();
  const target = collector.ports()[0]!;

  // A steady exporter: a template every second, PACKETS_PER_S data packets a second.
  const sock = createSocket('udp4');
  let seq = 0;
  let sent = 0;
  let sending = true;
  let recoveryMs = -1;
  let during = collector.counts();
  const sender = (async () => {
    const t0 = Date.now();
    for (let ticks = 0; sending && Date.now() - t0 < 180_000; ticks++) {
      const tick = Date.now();
      // Like a real exporter: the template again every second (every 10th tick).
      const packets = ticks % 10 === 0 ? [v9TemplatePacket(seq++)] : [];
      for (let i = 0; i < PACKETS_PER_S / 10; i++) {
        const flows = Array.from({ length: RECORDS_PER_PACKET }, (_, j) => ({
          src: `10.3.${(sent + j) % 50}.${((sent + j) % 200) + 1}`,
          dst: '198.51.100.9',
          bytes: 100 + j,
          packets: 1,
          protocol: 6,
        }));
        packets.push(v9DataPacket(flows, seq++));
        sent += RECORDS_PER_PACKET;
      }
      for (const p of packets) await new Promise<void>((r) => sock.send(p, target, '127.0.0.1', () => r()));
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
    }
  })();

  try {
    await waitFor(async () => (collector.counts().published > 0 ? true : undefined), {
      what: 'first publish',
    });
    await new Promise((r) => setTimeout(r, 5_000));

    await broker('stop');
    const down = collector.counts();
    await new Promise((r) => setTimeout(r, outageMs));
    during = collector.counts();
    assert.ok(during.decoded > down.decoded + 1000, 'kept reading and decoding while Kafka was down');
    assert.ok(
      during.published - down.published < during.decoded - down.decoded,
      'Kafka took less than was decoded',
    );

    await broker('start');
    const back = Date.now();
    // Recovers by itself: publishing resumes with no intervention.
    await waitFor(async () => (collector.counts().published > during.published ? true : undefined), {
      what: 'publishing resumed after the broker came back',
      timeoutMs: 90_000,
    });
    recoveryMs = Date.now() - back;
    await new Promise((r) => setTimeout(r, 5_000));
  } finally {
    sending = false;
    await sender;
    sock.close();
  }

  assert.equal(await collector.flush(60_000), true, 'everything buffered was published');
  const c = collector.counts();
  assert.equal(c.pending, 0);
  assert.equal(
    c.decoded,
    sent,
    'every record sent was received and decoded (no kernel or decode loss at this rate)',
  );

  // Count what is really in Kafka.
  const kafka = new Kafka({ clientId: 'fault-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('fault-reader') });
  let inKafka = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: prefix + Topics.flows, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      inKafka += decodeFlowBatch(message.value ?? Buffer.alloc(0)).records.length;
    },
  });
  try {
    await waitFor(async () => (inKafka >= c.published ? true : undefined), {
      what: 'every published record read back',
      timeoutMs: 60_000,
    });
    await new Promise((r) => setTimeout(r, 1_000));
  } finally {
    await consumer.disconnect();
  }
  const dropped = Object.values(c.dropped).reduce((a, b) => a + b, 0);
  console.log(
    `# fault test: sent=${sent} received=${c.decoded} in_kafka=${inKafka} dropped=${JSON.stringify(c.dropped)} spooled=${c.spooled} recovery_ms=${recoveryMs}`,
  );
  assert.equal(inKafka, c.published, 'Kafka holds exactly what was acknowledged (no duplicates)');
  assert.equal(c.decoded, inKafka + dropped, 'received = in Kafka + dropped');
  await collector.stop();
  return { during, counts: c };
}

test('a 30 s broker outage: the collector recovers by itself and received = in Kafka + dropped', {
  timeout: 300_000,
}, async () => {
  const { during } = await outage(OUTAGE_MS, {});
  assert.ok((during.dropped.buffer_full ?? 0) > 0, 'the bound was reached and drops were counted');
});

test('with a disk spool the same outage loses nothing: what passes the memory bound waits on disk', {
  timeout: 300_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-spool-'));
  try {
    const { during, counts } = await outage(15_000, {
      'collector.spoolDir': dir,
      'collector.spoolBytes': 256 << 20,
    });
    assert.ok(during.spooled > 0, 'past the memory bound, records went to the spool');
    assert.deepEqual(counts.dropped, {}, 'nothing dropped');
    assert.equal(counts.decoded, counts.published, 'every record received is in Kafka');
    assert.deepEqual(readdirSync(dir), [], 'the spool emptied once Kafka took it all');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
