// The read routes the console's pages need, against real PostgreSQL: the overview's figures, a device's
// minute rollups and audit trail, and the device list's filters by first seen, VLAN and exporter.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { verifyWebhook } from '@wardwatch/policy';
import { waitFor } from '@wardwatch/testkit';
import { type PolicyHarness, seedAlert, seedDevices, startPolicyHarness } from './policy-support.ts';

describe('console read routes', () => {
  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness({ 'webhooks.pollIntervalMs': 50 });
    await seedDevices(h.db, [
      { ip: '10.1.0.1', class: 'infusion_pump', risk: 80 },
      { ip: '10.1.0.2', class: 'infusion_pump', risk: 30 },
      { ip: '10.1.0.3', class: 'printer', risk: 0 },
    ]);
    await h.db.pool.query("UPDATE devices SET first_seen = now() - interval '1 hour'");
    await h.db.pool.query(
      `UPDATE devices SET first_seen = now() - interval '10 days', vlan = 20, exporter = '192.0.2.1' WHERE ip = '10.1.0.3'`,
    );
    await seedAlert(h.db, { deviceIp: '10.1.0.1', kind: 'host_scan', severity: 'critical' });
    await seedAlert(h.db, { deviceIp: '10.1.0.2', kind: 'new_peer', severity: 'medium' });
    const resolved = await seedAlert(h.db, { deviceIp: '10.1.0.3', kind: 'new_peer', severity: 'medium' });
    await h.db.pool.query("UPDATE alerts SET status = 'resolved' WHERE id = $1", [resolved]);
    await h.db.pool.query(
      `INSERT INTO device_rollups_minute (device_ip, minute, bytes_out, bytes_in, flows)
       SELECT '10.1.0.1', timestamptz '2026-01-01 12:00Z' - m * interval '1 minute', 100 * m, 10, 1
       FROM generate_series(0, 119) AS m`,
    );
  });
  after(() => h?.close());

  test('overview: devices by class and risk band, new devices, unresolved alerts by severity', async () => {
    const r = await h.call('GET', '/v1/overview', { role: 'viewer' });
    assert.equal(r.status, 200);
    const o = r.body as {
      devices: { total: number; newLast24h: number; quarantined: number; byClass: unknown; byRisk: unknown };
      alerts: { open: number; openBySeverity: Array<{ name: string; n: number }> };
    };
    assert.equal(o.devices.total, 3);
    assert.equal(o.devices.newLast24h, 2);
    assert.equal(o.devices.quarantined, 0);
    assert.deepEqual(o.devices.byClass, [
      { name: 'infusion_pump', n: 2 },
      { name: 'printer', n: 1 },
    ]);
    assert.deepEqual(o.devices.byRisk, [
      { name: 'low', n: 1 },
      { name: 'medium', n: 1 },
      { name: 'high', n: 0 },
      { name: 'critical', n: 1 },
    ]);
    assert.equal(o.alerts.open, 2);
    assert.deepEqual(
      o.alerts.openBySeverity.filter((s) => s.n > 0),
      [
        { name: 'critical', n: 1 },
        { name: 'medium', n: 1 },
      ],
    );
  });

  test("traffic: the window ends at the device's newest minute (flow time)", async () => {
    const r = await h.call('GET', '/v1/devices/10.1.0.1/traffic?minutes=30', { role: 'viewer' });
    assert.equal(r.status, 200);
    const t = r.body as {
      to: string;
      bucketMinutes: number;
      items: Array<{ minute: string; bytesOut: number }>;
    };
    assert.equal(t.items.length, 30);
    assert.equal(t.to, '2026-01-01T12:00:00.000Z');
    assert.equal(t.items[0]!.minute, '2026-01-01T11:31:00.000Z');
    assert.equal(t.items.at(-1)!.bytesOut, 0);
    assert.ok(t.bucketMinutes >= 1);
    const none = await h.call('GET', '/v1/devices/10.1.0.3/traffic', { role: 'viewer' });
    assert.deepEqual((none.body as { items: unknown[]; to: unknown }).items, []);
    assert.equal((await h.call('GET', '/v1/devices/nope/traffic', { role: 'viewer' })).status, 400);
  });

  test("a device's audit trail lists what was done to it, for analysts", async () => {
    assert.equal((await h.call('PATCH', '/v1/devices/10.1.0.2', { body: { label: 'bed 7' } })).status, 200);
    const r = await h.call('GET', '/v1/devices/10.1.0.2/audit', { role: 'analyst' });
    const items = (r.body as { items: Array<{ action: string; targetId: string }> }).items;
    assert.deepEqual(
      items.map((i) => [i.action, i.targetId]),
      [['device.update', '10.1.0.2']],
    );
    assert.equal((await h.call('GET', '/v1/devices/10.1.0.2/audit', { role: 'viewer' })).status, 403);
  });

  test('device filters: first seen since, VLAN, exporter', async () => {
    const ips = async (q: string) => {
      const r = await h.call('GET', `/v1/devices?${q}`, { role: 'viewer' });
      assert.equal(r.status, 200, q);
      return (r.body as { items: Array<{ ip: string }> }).items.map((d) => d.ip);
    };
    const since = new Date(Date.now() - 5 * 86400_000).toISOString();
    assert.deepEqual(await ips(`firstSeenSince=${since}`), ['10.1.0.1', '10.1.0.2']);
    assert.deepEqual(await ips('vlan=20'), ['10.1.0.3']);
    assert.deepEqual(await ips('exporter=192.0.2.1'), ['10.1.0.3']);
    assert.deepEqual(await ips('exporter=192.0.2.9'), []);
    assert.equal((await h.call('GET', '/v1/devices?exporter=router-1', { role: 'viewer' })).status, 400);
  });

  test('policy dry run: the devices it applies to whose recent behaviour it would not allow', async () => {
    await h.db.pool.query(
      `INSERT INTO device_profiles (device_ip, peer, service_port, protocol, direction, peer_internal, flows, first_seen, last_seen)
       SELECT '10.1.0.1', peer::cidr, 443, 6, 'outbound', internal, 5, d.last_seen, d.last_seen
       FROM devices d, (VALUES ('10.200.0.1/32', true), ('203.0.113.5/32', false)) AS x(peer, internal)
       WHERE d.ip = '10.1.0.1'`,
    );
    const created = await h.call('POST', '/v1/policies', {
      body: {
        name: 'pumps-to-server',
        enabled: false,
        rules: [{ peer: { cidr: '10.200.0.1/32' }, protocol: 6, ports: [443], direction: 'from-device' }],
      },
    });
    assert.equal(created.status, 201);
    const id = (created.body as { id: number }).id;
    assert.equal(
      (await h.call('POST', `/v1/policies/${id}/assignments`, { body: { deviceClass: 'infusion_pump' } }))
        .status,
      201,
    );
    const r = await h.call('GET', `/v1/policies/${id}/violations?hours=24`, { role: 'viewer' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      policy: { id, name: 'pumps-to-server', enabled: false },
      hours: 24,
      devicesChecked: 2,
      violating: [
        {
          deviceIp: '10.1.0.1',
          entries: 1,
          examples: [
            {
              peer: '203.0.113.5/32',
              servicePort: 443,
              protocol: 6,
              direction: 'outbound',
              reason: 'no-rule',
            },
          ],
        },
      ],
    });
    assert.equal((await h.call('GET', '/v1/policies/999999/violations', { role: 'viewer' })).status, 404);
  });

  test('a webhook test send reaches a real receiver through the normal, signed delivery path', async () => {
    const got: Array<{ headers: Record<string, unknown>; body: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    const port = await new Promise<number>((r) =>
      server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)),
    );
    try {
      const secret = 'console-test-secret-0123456789';
      const created = await h.call('POST', '/v1/webhooks', {
        body: { url: `http://127.0.0.1:${port}/hook`, events: ['device.new'], secret },
      });
      const id = (created.body as { id: string }).id;
      const sent = await h.call('POST', `/v1/webhooks/${id}/test`);
      assert.equal(sent.status, 202);
      const { deliveryId } = sent.body as { deliveryId: number };
      const delivered = await waitFor(
        async () => {
          const r = await h.call('GET', `/v1/webhooks/${id}/deliveries`);
          const d = (r.body as { items: Array<{ id: number; status: string; eventType: string }> }).items[0];
          return d?.status === 'delivered' ? d : undefined;
        },
        { what: 'the test delivery', timeoutMs: 20_000 },
      );
      assert.equal(delivered.id, deliveryId);
      assert.equal(delivered.eventType, 'webhook.test');
      assert.equal(got.length, 1);
      assert.match(got[0]!.body, /webhook\.test/);
      assert.ok(
        verifyWebhook(secret, got[0]!.body, String(got[0]!.headers['wardwatch-signature'])),
        'signed',
      );
      assert.equal(
        (await h.call('POST', '/v1/webhooks/00000000-0000-4000-8000-000000000000/test')).status,
        404,
      );
      assert.equal((await h.call('POST', `/v1/webhooks/${id}/test`, { role: 'analyst' })).status, 403);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
