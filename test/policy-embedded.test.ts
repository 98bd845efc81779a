// The policy service in embedded mode (PGlite behind the pg wire socket, one connection): the same
// migrations, triggers, outbox dispatch, quarantine and MUD work there as on PostgreSQL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { validateMud, verifyWebhook } from '@wardwatch/policy';
import { createLogger } from '@wardwatch/telemetry';
import { waitFor } from '@wardwatch/testkit';

const KEY = 'embedded-admin-key-0123456789abcdef';
const SECRET = 'embedded-webhook-secret-0123';
let ww: Wardwatch;
let dir: string;
const got: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    got.push({ headers: req.headers, body });
    res.writeHead(200).end();
  });
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${ww.policy!.url()}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ww-policy-embedded-'));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const config = loadConfig({
    env: {},
    overrides: {
      mode: 'embedded',
      dataDir: dir,
      'api.host': '127.0.0.1',
      'api.port': 0,
      'api.bootstrapApiKey': KEY,
      'webhooks.pollIntervalMs': 50,
      'webhooks.secretKey': 'embedded-secret-key-0123456789',
      logLevel: 'silent',
    },
  });
  ww = await startWardwatch(config, createLogger({ level: 'silent' }), ['policy']);
});
after(async () => {
  await ww?.stop();
  await new Promise<void>((r) => receiver.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

test('embedded: triggers raise events, the outbox delivers, quarantine and MUD work on PGlite', async () => {
  const port = (receiver.address() as { port: number }).port;
  const hook = await call('POST', '/v1/webhooks', {
    url: `http://127.0.0.1:${port}/h`,
    events: ['device.new', 'alert.opened', 'device.quarantined'],
    secret: SECRET,
  });
  assert.equal(hook.status, 201);
  const pool = ww.db!.pool;
  await pool.query(
    "INSERT INTO devices (ip, first_seen, last_seen, class) VALUES ('192.168.5.5', now(), now(), 'infusion-pump')",
  );
  await pool.query(
    "INSERT INTO alerts (device_ip, kind, severity, title, first_seen, last_seen) VALUES ('192.168.5.5', 'port-scan', 'high', 'scan', now(), now())",
  );
  assert.equal((await call('POST', '/v1/devices/192.168.5.5/quarantine', { reason: 'test' })).status, 201);
  await waitFor(async () => (got.length >= 3 ? true : undefined), {
    what: 'three webhooks',
    timeoutMs: 20_000,
  });
  assert.deepEqual(got.map((g) => g.headers['wardwatch-event']).sort(), [
    'alert.opened',
    'device.new',
    'device.quarantined',
  ]);
  for (const g of got) assert.ok(verifyWebhook(SECRET, g.body, String(g.headers['wardwatch-signature'])));
  const p = await call('POST', '/v1/policies', {
    name: 'p',
    rules: [{ peer: { local: true }, protocol: 6, ports: [443], direction: 'from-device' }],
  });
  await call('POST', `/v1/policies/${p.body.id}/assignments`, { deviceIp: '192.168.5.5' });
  const mud = await call('GET', '/v1/devices/192.168.5.5/mud');
  assert.equal(mud.status, 200);
  assert.deepEqual(validateMud(mud.body), []);
  const detail = await call('GET', '/v1/devices/192.168.5.5');
  assert.equal(detail.body.quarantined, true);
  assert.equal((detail.body.alerts as unknown[]).length, 1);
  const audit = await call('GET', '/v1/audit');
  assert.ok((audit.body.items as unknown[]).length >= 4);
});
