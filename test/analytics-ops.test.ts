// An analytics worker in cluster mode serves its own /metrics, /healthz and /readyz (what docker-compose
// and Kubernetes probe and Prometheus scrapes), and stops serving them when it stops.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { createLogger } from '@wardwatch/telemetry';
import { dropSchema, isolatedStack, uniqueName } from '@wardwatch/testkit';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let ww: Wardwatch | undefined;
let schema: string;
let port: number;

before(async () => {
  schema = uniqueName('ops');
  port = await freePort();
  const config = loadConfig({
    env: {},
    overrides: {
      ...isolatedStack(schema, 'ops-test-key-0123456789abcdef'),
      mode: 'cluster',
      'kafka.flowPartitions': 2,
      'analytics.httpHost': '127.0.0.1',
      'analytics.httpPort': port,
    },
  });
  ww = await startWardwatch(config, createLogger({ level: 'warn' }), ['analytics']);
});

after(async () => {
  await ww?.stop();
  await dropSchema(schema);
});

test('the analytics worker answers /healthz, /readyz and /metrics on analytics.httpPort', async () => {
  const base = `http://127.0.0.1:${port}`;
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready' });
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^# HELP wardwatch_analytics_/m);
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
});

test('stopping the worker closes its operations port', async () => {
  await ww?.stop();
  ww = undefined;
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
});
