// Webhooks against a real local HTTP receiver: the receiver is down (connection refused), the outbox
// retries with backoff and delivers once it is up; the service is restarted while a delivery is in
// flight, and the event is delivered again with the same idempotency key (the receiver de-duplicates);
// events raised while the service is down are delivered after it starts. Bodies are verified with the
// HMAC-SHA256 signature a receiver would check.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { verifyWebhook } from '@wardwatch/policy';
import { TEST_KAFKA_BROKERS, waitFor } from '@wardwatch/testkit';
import { type PolicyHarness, seedAlert, seedDevices, startPolicyHarness } from './policy-support.ts';

const SECRET = 'receiver-shared-secret-0123456789';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP receiver on a loopback port; `mode` decides how it answers. */
function receiver(port = 0) {
  const got: Received[] = [];
  let mode: 'ok' | 'hang' | 'fail' | 'gone' = 'ok';
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      if (mode === 'hang') hanging.push(res);
      else if (mode === 'fail') res.writeHead(503).end();
      else if (mode === 'gone') res.writeHead(410).end();
      else res.writeHead(204).end();
    });
  });
  return {
    got,
    setMode: (m: typeof mode) => (mode = m),
    listen: () =>
      new Promise<number>((r) =>
        server.listen(port, '127.0.0.1', () => r((server.address() as { port: number }).port)),
      ),
    close: () =>
      new Promise<void>((r) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function freePort(): Promise<number> {
  const r = receiver();
  const port = await r.listen();
  await r.close();
  return port;
}

type Delivery = {
  status: string;
  attempts: number;
  idempotencyKey: string;
  lastError: string | null;
  eventType: string;
};

describe('webhooks from the PostgreSQL outbox to a real HTTP receiver', () => {
  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness({
      'webhooks.backoffBaseMs': 150,
      'webhooks.backoffMaxMs': 600,
      'webhooks.pollIntervalMs': 50,
      'webhooks.timeoutMs': 1500,
    });
    await seedDevices(h.db, [
      { ip: '10.60.0.1', class: 'infusion-pump' },
      { ip: '10.60.0.2', class: 'infusion-pump' },
    ]);
  });
  after(() => h?.close());

  const deliveries = async (id: string) =>
    ((await h.call('GET', `/v1/webhooks/${id}/deliveries`)).body as { items: Delivery[] }).items;

  test('receiver down -> retried with backoff -> delivered once it is up, signed and keyed', async () => {
    const port = await freePort();
    const created = await h.call('POST', '/v1/webhooks', {
      body: {
        url: `http://127.0.0.1:${port}/hook`,
        events: ['alert.opened', 'device.quarantined'],
        secret: SECRET,
      },
    });
    assert.equal(created.status, 201);
    const hook = created.body as { id: string; events: string[] };
    assert.ok(!JSON.stringify(created.body).includes(SECRET), 'the secret is never echoed');
    const stored = await h.db.pool.query('SELECT secret FROM webhooks WHERE id = $1', [hook.id]);
    assert.ok(!stored.rows[0].secret.includes(SECRET), 'the secret is encrypted at rest');

    const alertId = await seedAlert(h.db, { deviceIp: '10.60.0.1', kind: 'port-scan', severity: 'high' });
    await waitFor(
      async () => {
        const d = (await deliveries(hook.id))[0];
        return d && d.attempts >= 3 ? d : undefined;
      },
      { what: 'three failed attempts', timeoutMs: 20_000 },
    );
    const failing = (await deliveries(hook.id))[0]!;
    assert.equal(failing.status, 'pending');
    assert.match(failing.lastError ?? '', /ECONNREFUSED/);

    const r = receiver(port);
    await r.listen();
    try {
      const done = await waitFor(
        async () => {
          const d = (await deliveries(hook.id))[0];
          return d?.status === 'delivered' ? d : undefined;
        },
        { what: 'delivery after the receiver came up', timeoutMs: 20_000 },
      );
      assert.equal(r.got.length, 1, 'delivered exactly once');
      const req = r.got[0]!;
      assert.ok(
        verifyWebhook(SECRET, req.body, String(req.headers['wardwatch-signature'])),
        'signature verifies',
      );
      assert.ok(
        !verifyWebhook('some-other-secret-000000', req.body, String(req.headers['wardwatch-signature'])),
      );
      assert.match(String(req.headers['wardwatch-signature']), /^t=\d+,v1=[0-9a-f]{64}$/);
      const body = JSON.parse(req.body) as {
        id: string;
        type: string;
        data: { alert: { id: number; deviceIp: string } };
      };
      assert.equal(body.type, 'alert.opened');
      assert.equal(body.data.alert.id, alertId);
      assert.equal(body.data.alert.deviceIp, '10.60.0.1');
      assert.equal(req.headers['idempotency-key'], body.id);
      assert.equal(done.idempotencyKey, body.id);
      assert.equal(req.headers['wardwatch-event'], 'alert.opened');
      assert.ok(done.attempts >= 4);
      const attempts = await h.db.pool.query(
        'SELECT status_code, error FROM webhook_attempts WHERE webhook_id = $1 ORDER BY id',
        [hook.id],
      );
      assert.equal(attempts.rows.length, done.attempts, 'every attempt is in the delivery log');
      assert.equal(attempts.rows.at(-1)!.status_code, 204);
      // A subscription only gets the events it asked for: alert.updated is not one.
      await h.call('POST', `/v1/alerts/${alertId}/acknowledge`, { body: {} });
      await h.call('POST', '/v1/devices/10.60.0.1/quarantine', { body: { reason: 'test' } });
      await waitFor(async () => (r.got.length >= 2 ? true : undefined), {
        what: 'device.quarantined',
        timeoutMs: 10_000,
      });
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(
        r.got.map((g) => g.headers['wardwatch-event']),
        ['alert.opened', 'device.quarantined'],
      );
    } finally {
      await r.close();
      await h.call('DELETE', `/v1/webhooks/${hook.id}`);
    }
  });

  test('service restarted mid-delivery -> delivered again with the same idempotency key; nothing lost while down', async () => {
    const r = receiver();
    const port = await r.listen();
    try {
      const hook = (
        await h.call('POST', '/v1/webhooks', {
          body: {
            url: `http://127.0.0.1:${port}/in`,
            events: ['alert.opened', 'policy.violated'],
            secret: SECRET,
          },
        })
      ).body as { id: string };
      r.setMode('hang');
      await seedAlert(h.db, { deviceIp: '10.60.0.2', kind: 'lateral-movement', severity: 'critical' });
      await waitFor(async () => (r.got.length >= 1 ? true : undefined), {
        what: 'the first attempt in flight',
        timeoutMs: 10_000,
      });
      // Restart while the receiver holds the request open: the attempt never completes for the sender.
      r.setMode('ok');
      await h.restart({
        'webhooks.backoffBaseMs': 150,
        'webhooks.backoffMaxMs': 600,
        'webhooks.pollIntervalMs': 50,
        'webhooks.timeoutMs': 1500,
      });
      const done = await waitFor(
        async () => {
          const d = (await deliveries(hook.id))[0];
          return d?.status === 'delivered' ? d : undefined;
        },
        { what: 'delivery after the restart', timeoutMs: 30_000 },
      );
      assert.ok(r.got.length >= 2, 'the in-flight attempt was repeated');
      const keys = r.got.map((g) => g.headers['idempotency-key']);
      assert.equal(new Set(keys).size, 1, 'same idempotency key on every attempt');
      assert.equal(keys[0], done.idempotencyKey);
      assert.equal(new Set(r.got.map((g) => g.body)).size, 1, 'the same body bytes on every attempt');
      const processed = new Map(r.got.map((g) => [g.headers['idempotency-key'], g]));
      assert.equal(processed.size, 1, 'a receiver that de-duplicates by key processes the event once');

      // Events raised while no service runs wait in the outbox.
      await h.service.stop();
      r.got.length = 0;
      await seedAlert(h.db, { deviceIp: '10.60.0.2', kind: 'policy-violation', severity: 'high' });
      await h.restart({ 'webhooks.pollIntervalMs': 50 });
      await waitFor(async () => (r.got.length >= 2 ? true : undefined), {
        what: 'events raised while down',
        timeoutMs: 15_000,
      });
      assert.deepEqual(r.got.map((g) => g.headers['wardwatch-event']).sort(), [
        'alert.opened',
        'policy.violated',
      ]);
    } finally {
      await r.close();
    }
  });

  test('a receiver answering 4xx fails the delivery without retries; 5xx is retried; admin can retry', async () => {
    const r = receiver();
    const port = await r.listen();
    try {
      const hook = (
        await h.call('POST', '/v1/webhooks', {
          body: { url: `http://127.0.0.1:${port}/x`, events: ['device.released'], secret: SECRET },
        })
      ).body as { id: string };
      r.setMode('fail');
      await h.call('POST', '/v1/devices/10.60.0.1/release', { body: { reason: 'done' } });
      await waitFor(async () => (r.got.length >= 2 ? true : undefined), {
        what: '5xx retried',
        timeoutMs: 10_000,
      });
      r.setMode('ok');
      await waitFor(async () => ((await deliveries(hook.id))[0]?.status === 'delivered' ? true : undefined), {
        what: 'delivered after 5xx',
        timeoutMs: 10_000,
      });
      assert.equal(
        (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries`, { role: 'analyst' })).status,
        403,
      );
      r.setMode('gone');
      r.got.length = 0;
      await h.call('POST', '/v1/devices/10.60.0.1/quarantine', { body: { reason: 'again' } });
      await h.call('POST', '/v1/devices/10.60.0.1/release', { body: { reason: 'again' } });
      const failed = await waitFor(
        async () => {
          const d = (await deliveries(hook.id))[0];
          return d?.status === 'failed' ? d : undefined;
        },
        { what: '4xx fails the delivery', timeoutMs: 10_000 },
      );
      assert.equal(failed.attempts, 1, 'no retry after 410');
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(r.got.length, 1);
      r.setMode('ok');
      const list = (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries`)).body as {
        items: Array<{ id: number }>;
      };
      const retry = await h.call('POST', `/v1/webhooks/${hook.id}/deliveries/${list.items[0]!.id}/retry`);
      assert.equal(retry.status, 202);
      await waitFor(async () => ((await deliveries(hook.id))[0]?.status === 'delivered' ? true : undefined), {
        what: 'manual retry delivered',
        timeoutMs: 10_000,
      });
    } finally {
      await r.close();
    }
  });
});

/** Starts the policy service in a child process over the harness's schema. */
async function childService(h: PolicyHarness, overrides: Record<string, unknown>): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'policy-serve-child.ts'), JSON.stringify(overrides)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.startsWith('{"url"')) return child;
  }
  throw new Error(`child service for ${h.schema} did not start`);
}

describe('webhooks survive a killed service process', () => {
  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness();
    await h.service.stop(); // the children below do the delivering
    await seedDevices(h.db, [{ ip: '10.61.0.1', class: 'infusion-pump' }]);
  });
  after(() => h?.close());

  test('SIGKILL mid-delivery -> a new process delivers the event with the same idempotency key', async () => {
    const r = receiver();
    const port = await r.listen();
    const overrides = {
      mode: 'cluster',
      'database.url': h.config.database.url,
      'database.schema': h.schema,
      'database.poolSize': 2,
      // The service reads exporters-v1 like any policy service: from its own topics and group.
      'kafka.brokers': TEST_KAFKA_BROKERS,
      'kafka.topicPrefix': `${h.schema}.`,
      'analytics.groupId': h.schema,
      'api.host': '127.0.0.1',
      'api.port': 0,
      'webhooks.secretKey': h.config.webhooks.secretKey,
      'webhooks.pollIntervalMs': 50,
      'webhooks.timeoutMs': 1000,
      'webhooks.backoffBaseMs': 100,
      logLevel: 'silent',
    };
    let child: ChildProcess | undefined;
    try {
      const { rows } = await h.db.pool.query<{ id: string }>(
        `INSERT INTO webhooks (url, events, secret, created_by) VALUES ($1, ARRAY['alert.opened'], $2, 'test') RETURNING id`,
        [`http://127.0.0.1:${port}/k`, `plain:${SECRET}`],
      );
      const hookId = rows[0]!.id;
      r.setMode('hang');
      child = await childService(h, overrides);
      await seedAlert(h.db, { deviceIp: '10.61.0.1', kind: 'beaconing', severity: 'high' });
      await waitFor(async () => (r.got.length >= 1 ? true : undefined), {
        what: 'first attempt in flight',
        timeoutMs: 15_000,
      });
      child.kill('SIGKILL');
      await once(child, 'exit');
      child = undefined;
      const mid = await h.db.pool.query(
        'SELECT status, attempts FROM webhook_deliveries WHERE webhook_id = $1',
        [hookId],
      );
      assert.deepEqual(
        mid.rows[0],
        { status: 'pending', attempts: 0 },
        'the killed process recorded nothing',
      );
      r.setMode('ok');
      child = await childService(h, overrides);
      await waitFor(
        async () => {
          const d = await h.db.pool.query('SELECT status FROM webhook_deliveries WHERE webhook_id = $1', [
            hookId,
          ]);
          return d.rows[0]?.status === 'delivered' ? true : undefined;
        },
        { what: 'delivery by the new process after the lease', timeoutMs: 30_000 },
      );
      assert.equal(r.got.length, 2);
      assert.equal(r.got[0]!.headers['idempotency-key'], r.got[1]!.headers['idempotency-key']);
      assert.equal(r.got[0]!.body, r.got[1]!.body);
      for (const g of r.got)
        assert.ok(verifyWebhook(SECRET, g.body, String(g.headers['wardwatch-signature'])));
    } finally {
      if (child) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await r.close();
    }
  });
});
