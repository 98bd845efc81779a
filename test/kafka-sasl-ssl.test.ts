// The transport against a real broker configured with SASL_SSL (SCRAM over TLS): its own broker on free
// ports (deploy/kafka-local/kafka.sh with KAFKA_SASL_SSL), throwaway certificates made with openssl and a
// SCRAM user created at format time. The transport publishes and reads back with TLS and SCRAM-SHA-256
// and -512; a wrong password and a plaintext client are refused.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { uniqueName } from '@wardwatch/testkit';
import { createKafkaTransport } from '@wardwatch/transport';
import { makeTestCertificates, type TestCertificates } from './support/certs.ts';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const script = join(repo, 'deploy/kafka-local/kafka.sh');
const USER = 'wardwatch-test';
const PASSWORD = `scram-${process.pid}-${Date.now()}`;

/** A port with the two above it free too (client, controller, internal listener). */
async function freePorts(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    if (port > 65530) continue;
    let ok = true;
    for (const p of [port + 1, port + 2]) {
      const t = createServer();
      ok &&= await new Promise<boolean>((r) => {
        t.once('error', () => r(false));
        t.listen(p, '127.0.0.1', () => t.close(() => r(true)));
      });
    }
    if (ok) return port;
  }
  throw new Error('no three adjacent free ports for the test broker');
}

describe('Kafka transport over SASL_SSL (real broker)', () => {
  const home = mkdtempSync(join(tmpdir(), 'ww-kafka-sasl-'));
  let certs: TestCertificates;
  let port = 0;
  const broker = (cmd: 'start' | 'stop') =>
    run('bash', [script, cmd], {
      env: {
        ...process.env,
        KAFKA_HOME_DIR: home,
        KAFKA_PORT: String(port),
        KAFKA_SASL_SSL: '1',
        KAFKA_SSL_CERT: certs.certFile,
        KAFKA_SSL_KEY: certs.keyFile,
        KAFKA_SCRAM_USER: USER,
        KAFKA_SCRAM_PASSWORD: PASSWORD,
      },
      timeout: 180_000,
    });

  before(async () => {
    certs = makeTestCertificates('localhost');
    port = await freePorts();
    const libs = join(repo, '.kafka/libs');
    if (existsSync(join(libs, '.complete'))) cpSync(libs, join(home, 'libs'), { recursive: true });
    await broker('start');
  });

  after(async () => {
    await broker('stop').catch(() => {});
    rmSync(home, { recursive: true, force: true });
    rmSync(certs.dir, { recursive: true, force: true });
  });

  for (const mechanism of ['scram-sha-256', 'scram-sha-512'] as const) {
    test(`TLS + ${mechanism}: a message published is read back`, async () => {
      const prefix = `${uniqueName('sasl')}.`;
      const t = createKafkaTransport({
        brokers: [`127.0.0.1:${port}`],
        clientId: 'sasl-test',
        topicPrefix: prefix,
        tls: { ca: certs.ca },
        sasl: { mechanism, username: USER, password: PASSWORD },
      });
      try {
        await t.ensureTopic('t', 1);
        const pub = await t.createPublisher();
        await pub.publish('t', [{ key: 'k', value: new TextEncoder().encode(mechanism) }]);
        await pub.close();
        const read = await t.readTopic('t', { timeoutMs: 30_000 });
        assert.deepEqual(
          read.messages.map((m) => new TextDecoder().decode(m.value)),
          [mechanism],
        );
      } finally {
        await t.close();
      }
    });
  }

  test('a wrong password and a plaintext client are refused', async () => {
    for (const opts of [
      {
        tls: { ca: certs.ca },
        sasl: { mechanism: 'scram-sha-256' as const, username: USER, password: 'wrong' },
      },
      {},
    ]) {
      const t = createKafkaTransport({ brokers: [`127.0.0.1:${port}`], clientId: 'sasl-test-bad', ...opts });
      try {
        assert.equal(await t.ping(), false);
      } finally {
        await t.close().catch(() => {});
      }
    }
  });
});
