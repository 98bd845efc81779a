// The read routes the console's pages need, against real PostgreSQL: the overview's figures, a device's
// minute rollups and audit trail, and the device list's filters by first seen, VLAN and exporter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PolicyHarness, seedAlert, seedDevices, startPolicyHarness } from './policy-support.ts';

describe('console read routes', () => {
  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness();
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
});
