// Safe enforcement (issue #14) on real components: the analytics worker judging flows against a quarantine
// policy over the real PostgreSQL, the real policy service deciding (its enforcer loop, its HTTP API), and
// a real HTTP webhook receiver. Analytics only raises a request; the policy service quarantines.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type Analytics, createAnalytics } from '@wardwatch/analytics';
import { loadConfig } from '@wardwatch/config';
import { createFlowRecord, encodeFlowBatch, type FlowRecord } from '@wardwatch/flow-schema';
import { routeByDevice } from '@wardwatch/hospital-sim';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';
import { waitFor } from '@wardwatch/testkit';
import { type ConsumedBatch, createMemoryTransport } from '@wardwatch/transport';
import { type PolicyHarness, startPolicyHarness } from './policy-support.ts';

type Json = Record<string, unknown>;
const NETS = ['10.0.0.0/8'];
const TRUSTED = '192.0.2.1';
const PENDING = '198.51.100.7';
const T0 = Date.now() - 30 * 60_000;

function rec(p: Partial<FlowRecord>): FlowRecord {
  return {
    ...createFlowRecord(),
    exporter: TRUSTED,
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

let offset = 0;
/** The batch the transport would deliver: one message per device. */
function batchOf(records: FlowRecord[]): ConsumedBatch {
  const messages = [];
  for (const [device, rs] of routeByDevice(records, NETS))
    messages.push({
      key: device,
      value: encodeFlowBatch(rs, new Array(rs.length).fill(device)),
      headers: {},
      offset: String(offset++),
    });
  return { topic: 'flows-v1', partition: 0, messages };
}

describe('safe enforcement: one quarantine path, exporter trust, life-critical devices, bounds', () => {
  let h: PolicyHarness;
  let a: Analytics;
  let hooks: Server;
  const received: Array<{ id: string; type: string; data: Json }> = [];
  let policyId = 0;

  /** A device of `cls` (internal-only quarantine policy) reaching the internet, reported by `exporter`. */
  async function violate(ip: string, exporter: string): Promise<void> {
    await a.handle(batchOf([rec({ srcAddr: ip, dstAddr: '10.9.0.10', dstPort: 443, exporter })]));
    await a.handle(batchOf([rec({ srcAddr: ip, dstAddr: '203.0.113.50', dstPort: 443, exporter })]));
  }
  const decisionOf = (ip: string) =>
    waitFor(
      async () => {
        const r = await h.call('GET', `/v1/enforcement/decisions?deviceIp=${ip}`, { role: 'viewer' });
        const items = (r.body as { items: Json[] }).items;
        return items[0];
      },
      { what: `the enforcer's decision on ${ip}`, timeoutMs: 20_000 },
    );

  before(async () => {
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    h = await startPolicyHarness({
      'collector.exporterAllowlist': [`${TRUSTED}/32`],
      'enforcement.pollIntervalMs': 50,
      'enforcement.maxAutoQuarantinesPerHour': 2,
      'webhooks.pollIntervalMs': 50,
    });
    const hook = await h.call('POST', '/v1/webhooks', {
      body: {
        url: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`,
        events: ['device.quarantined', 'quarantine.requested'],
        secret: 'a-webhook-secret-0123456789',
      },
    });
    assert.equal(hook.status, 201, hook.text);
    const config = loadConfig({
      env: {},
      overrides: {
        monitoredNetworks: NETS,
        'analytics.groupId': `${h.schema}-g`,
        'analytics.learningPeriod': '5m',
        'analytics.commitInterval': '0s',
      },
    });
    a = createAnalytics({
      config,
      transport: createMemoryTransport(),
      db: h.db,
      logger: createLogger({ level: 'silent' }),
      registry: createMetricsRegistry(),
    });
    const p = await h.call('POST', '/v1/policies', {
      body: {
        name: 'pumps-internal',
        rules: [{ peer: { cidr: '10.9.0.0/16' }, ports: [443], protocol: 6, direction: 'from-device' }],
        internalOnly: true,
        action: 'quarantine',
      },
    });
    assert.equal(p.status, 201, p.text);
    policyId = (p.body as Json).id as number;
    for (const ip of ['10.3.0.1', '10.3.0.2', '10.3.0.3', '10.3.0.4', '10.3.0.5', '10.3.0.6'])
      await h.call('POST', `/v1/policies/${policyId}/assignments`, { body: { deviceIp: ip } });
    await a.reload();
  });

  after(async () => {
    await h?.close();
    await new Promise((r) => hooks?.close(r));
  });

  test('forged flows from a pending exporter raise the alert and no quarantine', async () => {
    await violate('10.3.0.1', PENDING);
    const alerts = await h.db.pool.query("SELECT kind FROM alerts WHERE device_ip = '10.3.0.1'");
    assert.ok(
      alerts.rows.some((r) => r.kind === 'policy_violation'),
      'the alert is raised whatever the exporter',
    );
    const d = (await decisionOf('10.3.0.1')) as Json;
    assert.equal(d.outcome, 'untrusted');
    assert.deepEqual((await h.call('GET', '/v1/feeds/quarantined.txt')).text, '');
    const q = await h.db.pool.query("SELECT 1 FROM quarantines WHERE device_ip = '10.3.0.1'");
    assert.equal(q.rowCount, 0);
  });

  test('the same flows from a trusted exporter quarantine: audited as analytics with the evidence, an event, an expiry', async () => {
    await violate('10.3.0.2', TRUSTED);
    const d = (await decisionOf('10.3.0.2')) as Json;
    assert.equal(d.outcome, 'quarantined');
    const q = (
      (await h.call('GET', '/v1/quarantines', { role: 'viewer' })).body as { items: Json[] }
    ).items.find((x) => x.deviceIp === '10.3.0.2')!;
    assert.equal(q.createdBy, 'analytics');
    assert.equal(q.policyId, policyId);
    const expiry = Date.parse(q.expiresAt as string) - Date.parse(q.createdAt as string);
    assert.ok(Math.abs(expiry - 3_600_000) < 60_000, `expires after 1 h by default (${expiry} ms)`);
    assert.ok((await h.call('GET', '/v1/feeds/quarantined.txt')).text.includes('10.3.0.2\n'));
    const audit = await h.db.pool.query<{ actor_name: string; after: Json }>(
      "SELECT actor_name, after FROM audit_log WHERE action = 'device.quarantine' AND target_id = '10.3.0.2'",
    );
    assert.equal(audit.rows.length, 1);
    assert.equal(audit.rows[0]!.actor_name, 'analytics');
    const evidence = audit.rows[0]!.after.evidence as Json;
    assert.deepEqual(evidence.exporters, [TRUSTED]);
    assert.equal(
      ((evidence.violations as Json[])[0] as Json).peer,
      '203.0.113.50/32',
      'the violating flow is in the evidence',
    );
    const ev = await h.db.pool.query(
      "SELECT payload FROM events WHERE type = 'device.quarantined' AND payload->>'deviceIp' = '10.3.0.2'",
    );
    assert.equal(ev.rowCount, 1);
    await waitFor(
      async () =>
        received.find((e) => e.type === 'device.quarantined' && e.data.deviceIp === '10.3.0.2') ?? undefined,
      { what: 'the device.quarantined webhook', timeoutMs: 20_000 },
    );
  });

  test('a life-critical device is never quarantined automatically: a request, approved in one call, quarantines', async () => {
    // An infusion pump (the class flag of the built-in signatures), by the analyst's class override.
    await a.handle(batchOf([rec({ srcAddr: '10.3.0.3', dstAddr: '10.9.0.10', dstPort: 443 })]));
    await h.db.pool.query("UPDATE devices SET class_override = 'infusion_pump' WHERE ip = '10.3.0.3'");
    await a.handle(batchOf([rec({ srcAddr: '10.3.0.3', dstAddr: '203.0.113.50', dstPort: 443 })]));
    const d = (await decisionOf('10.3.0.3')) as Json;
    assert.equal(d.outcome, 'requested');
    assert.equal((d.detail as Json).why, 'life-critical');
    assert.equal(
      (
        await h.db.pool.query(
          "SELECT 1 FROM quarantines WHERE device_ip = '10.3.0.3' AND released_at IS NULL",
        )
      ).rowCount,
      0,
    );
    const alert = await h.db.pool.query(
      "SELECT severity FROM alerts WHERE device_ip = '10.3.0.3' AND kind = 'quarantine_requested'",
    );
    assert.equal(alert.rows[0]?.severity, 'critical');
    const pending = (
      (await h.call('GET', '/v1/quarantine-requests', { role: 'viewer' })).body as { items: Json[] }
    ).items.find((r) => r.deviceIp === '10.3.0.3')!;
    assert.equal(pending.why, 'life-critical');
    await waitFor(
      async () =>
        received.find((e) => e.type === 'quarantine.requested' && e.data.deviceIp === '10.3.0.3') ??
        undefined,
      { what: 'the quarantine.requested webhook', timeoutMs: 20_000 },
    );
    // A viewer may not decide.
    assert.equal(
      (
        await h.call('POST', `/v1/quarantine-requests/${pending.id}`, {
          role: 'viewer',
          body: { decision: 'approve', reason: 'x' },
        })
      ).status,
      403,
    );
    const ok = await h.call('POST', `/v1/quarantine-requests/${pending.id}`, {
      role: 'analyst',
      body: { decision: 'approve', reason: 'pump moved to the isolation VLAN first', durationMinutes: 30 },
    });
    assert.equal(ok.status, 200, ok.text);
    const body = ok.body as { request: Json; quarantine: Json };
    assert.equal(body.request.status, 'approved');
    assert.equal(body.quarantine.createdBy, 'test-analyst');
    assert.ok((await h.call('GET', '/v1/feeds/quarantined.txt')).text.includes('10.3.0.3\n'));
    const again = await h.call('POST', `/v1/quarantine-requests/${pending.id}`, {
      body: { decision: 'reject', reason: 'late' },
    });
    assert.equal(again.status, 409);
    const audit = await h.db.pool.query(
      `SELECT action, actor_name FROM audit_log
       WHERE (target_type = 'device' AND target_id = '10.3.0.3') OR (target_type = 'quarantine-request' AND target_id = $1)
       ORDER BY id`,
      [String(pending.id)],
    );
    assert.deepEqual(
      audit.rows.filter((r) => r.action !== 'device.release').map((r) => [r.action, r.actor_name]),
      [
        ['device.quarantine', 'test-analyst'],
        ['quarantine-request.approve', 'test-analyst'],
      ],
    );
  });

  test('a per-device override makes a device life-critical (and back)', async () => {
    const r = await h.call('PUT', '/v1/devices/10.3.0.2/life-critical', {
      role: 'analyst',
      body: { lifeCritical: true },
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { deviceIp: '10.3.0.2', override: true, lifeCritical: true });
    const back = await h.call('PUT', '/v1/devices/10.3.0.2/life-critical', { body: { lifeCritical: null } });
    assert.deepEqual(back.body, { deviceIp: '10.3.0.2', override: null, lifeCritical: false });
  });

  test('dry run records what would have been quarantined; the circuit breaker turns the rest into requests', async () => {
    assert.equal(
      (await h.call('PUT', `/v1/policies/${policyId}/dry-run`, { body: { dryRun: true } })).status,
      200,
    );
    await violate('10.3.0.4', TRUSTED);
    const dry = (await decisionOf('10.3.0.4')) as Json;
    assert.equal(dry.outcome, 'dry-run');
    assert.equal((dry.detail as Json).would, 'quarantine');
    assert.equal(
      (await h.db.pool.query("SELECT 1 FROM quarantines WHERE device_ip = '10.3.0.4'")).rowCount,
      0,
    );
    await h.call('PUT', `/v1/policies/${policyId}/dry-run`, { body: { dryRun: false } });
    // The breaker allows 2 automatic quarantines an hour: 10.3.0.2 was the first, 10.3.0.5 the second.
    await violate('10.3.0.5', TRUSTED);
    assert.equal(((await decisionOf('10.3.0.5')) as Json).outcome, 'quarantined');
    await violate('10.3.0.6', TRUSTED);
    const held = (await decisionOf('10.3.0.6')) as Json;
    assert.equal(held.outcome, 'requested');
    assert.equal((held.detail as Json).why, 'breaker');
    const alert = await h.db.pool.query<{ title: string }>(
      "SELECT title FROM alerts WHERE device_ip = '10.3.0.6' AND kind = 'quarantine_requested'",
    );
    assert.match(alert.rows[0]?.title ?? '', /circuit breaker/);
  });

  test('exporters: trust and block are admin-only and audited', async () => {
    const trust = await h.call('PUT', `/v1/exporters/${PENDING}/trust`, { body: { state: 'blocked' } });
    assert.equal(trust.status, 200, trust.text);
    assert.equal((trust.body as Json).state, 'blocked');
    assert.equal(
      (await h.call('PUT', `/v1/exporters/${PENDING}/trust`, { role: 'analyst', body: { state: 'trusted' } }))
        .status,
      403,
    );
    const list = (await h.call('GET', '/v1/exporters/trust', { role: 'viewer' })).body as { items: Json[] };
    assert.deepEqual(
      list.items.map((e) => [e.address, e.state]),
      [[PENDING, 'blocked']],
    );
    const audit = await h.db.pool.query(
      "SELECT action FROM audit_log WHERE target_type = 'exporter' AND target_id = $1",
      [PENDING],
    );
    assert.deepEqual(
      audit.rows.map((r) => r.action),
      ['exporter.block'],
    );
  });

  test('a newly saved policy applies within seconds, not at the next reload', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        monitoredNetworks: NETS,
        'analytics.groupId': `${h.schema}-g2`,
        'analytics.learningPeriod': '5m',
        'analytics.commitInterval': '0s',
        'analytics.reloadInterval': '1h',
      },
    });
    const b = createAnalytics({
      config,
      transport: createMemoryTransport(),
      db: h.db,
      logger: createLogger({ level: 'silent' }),
      registry: createMetricsRegistry(),
    });
    await b.start();
    try {
      const p = await h.call('POST', '/v1/policies', {
        body: { name: 'late-policy', rules: [], internalOnly: true, action: 'quarantine' },
      });
      await h.call('POST', `/v1/policies/${(p.body as Json).id}/assignments`, {
        body: { deviceIp: '10.3.0.9' },
      });
      let port = 1000;
      await waitFor(
        async () => {
          await b.handle(batchOf([rec({ srcAddr: '10.3.0.9', dstAddr: '203.0.113.60', dstPort: port++ })]));
          const r = await h.db.pool.query(
            "SELECT 1 FROM events WHERE type = 'enforcement.requested' AND payload->>'deviceIp' = '10.3.0.9'",
          );
          return r.rowCount ? true : undefined;
        },
        { what: 'the new policy judged by a worker that reloads hourly', timeoutMs: 20_000, intervalMs: 500 },
      );
    } finally {
      await b.stop();
    }
  });
});
