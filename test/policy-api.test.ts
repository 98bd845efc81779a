// The policy API's behaviour against real PostgreSQL: devices (filters, cursors, CSV, analyst fields and
// their audit trail), alerts (acknowledge, resolve, assign, comment, bulk), policies (CRUD, assignment,
// learning from the behaviour profile, RFC 8520 MUD), quarantine (dry run, expiry, policy action), firewall
// feeds, exporter configuration, CEF to real UDP and TCP syslog receivers, rate limits, headers, OpenAPI.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, isIP, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { pruneEvents, validateMud } from '@wardwatch/policy';
import { waitFor } from '@wardwatch/testkit';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import {
  type PolicyHarness,
  seedAlert,
  seedDevices,
  seedEnforcementRequest,
  startPolicyHarness,
} from './policy-support.ts';

type Json = Record<string, unknown>;

/** An External Dynamic List as PAN-OS, FortiGate and Check Point read it: addresses or prefixes, one a line. */
function assertEdl(text: string): string[] {
  if (text === '') return [];
  assert.ok(text.endsWith('\n') && !text.includes('\r'), 'LF-terminated lines');
  const lines = text.slice(0, -1).split('\n');
  for (const l of lines) {
    const [addr, bits, ...rest] = l.split('/');
    assert.equal(rest.length, 0, l);
    assert.ok(isIP(addr!) !== 0, `${JSON.stringify(l)} is an address or prefix`);
    if (bits !== undefined)
      assert.ok(/^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(addr!) === 4 ? 32 : 128), l);
  }
  assert.equal(new Set(lines).size, lines.length, 'no duplicates');
  return lines;
}
const items = (b: unknown) => (b as { items: Json[] }).items;

async function seedProfile(
  h: PolicyHarness,
  ip: string,
  rows: Array<{
    peer: string;
    port: number;
    proto?: number;
    dir?: 'outbound' | 'inbound';
    internal?: boolean;
    hoursAgo?: number;
  }>,
) {
  for (const r of rows) {
    await h.db.pool.query(
      `INSERT INTO device_profiles (device_ip, peer, service_port, protocol, direction, peer_internal, flows, bytes_out,
         bytes_in, packets, first_seen, last_seen)
       VALUES ($1::inet, $2::cidr, $3, $4, $5, $6, 10, 1000, 500, 20, now() - interval '7 days',
               now() - make_interval(hours => $7))`,
      [ip, r.peer, r.port, r.proto ?? 6, r.dir ?? 'outbound', r.internal ?? true, r.hoursAgo ?? 0],
    );
  }
}

describe('policy API behaviour (real PostgreSQL)', () => {
  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness();
    const devices = [];
    for (let i = 1; i <= 30; i++) {
      devices.push({
        ip: `10.20.1.${i}`,
        class: i <= 10 ? 'infusion-pump' : i <= 20 ? 'workstation' : 'patient-monitor',
        risk: (i * 7) % 100,
        label: i === 5 ? 'Pump 5 – ICU bed 3 (Ünïcødé)' : undefined,
        mac: i === 6 ? '00:1a:2b:3c:4d:5e' : undefined,
      });
    }
    devices.push({ ip: '10.30.0.1', class: 'pacs-server', risk: 0 });
    devices.push({ ip: '10.30.0.2', class: 'pacs-server', risk: 0 });
    await seedDevices(h.db, devices);
  });
  after(() => h?.close());

  test('device list: filters by class, subnet, risk, recency, open alerts and text; stable cursors', async () => {
    const pumps = await h.call('GET', '/v1/devices?class=infusion-pump&limit=1000');
    assert.equal(pumps.status, 200);
    assert.equal(items(pumps.body).length, 10);
    assert.equal(items(await h.call('GET', '/v1/devices?subnet=10.30.0.0/24').then((r) => r.body)).length, 2);
    const risky = items((await h.call('GET', '/v1/devices?minRisk=90&limit=1000')).body);
    assert.ok(risky.length > 0 && risky.every((d) => (d.risk as number) >= 90));
    assert.equal(items((await h.call('GET', '/v1/devices?q=icu%20bed')).body).length, 1);
    assert.equal(items((await h.call('GET', '/v1/devices?q=3c:4d')).body)[0]!.ip, '10.20.1.6');
    assert.equal(
      items((await h.call('GET', '/v1/devices?q=100%25')).body).length,
      0,
      'LIKE wildcards are literal',
    );
    const future = new Date(Date.now() + 86_400_000).toISOString();
    assert.equal(items((await h.call('GET', `/v1/devices?seenSince=${future}`)).body).length, 0);
    await seedAlert(h.db, { deviceIp: '10.20.1.3', kind: 'port-scan' });
    const withAlerts = items((await h.call('GET', '/v1/devices?hasOpenAlerts=true')).body);
    assert.deepEqual(
      withAlerts.map((d) => d.ip),
      ['10.20.1.3'],
    );
    assert.equal(withAlerts[0]!.openAlerts, 1);
    assert.equal((await h.call('GET', '/v1/devices?subnet=not-a-cidr')).status, 400);
    const newDevices = await h.db.pool.query(
      "SELECT payload->'device'->>'ip' AS ip FROM events WHERE type = 'device.new'",
    );
    assert.equal(newDevices.rows.length, 32, 'a device.new event per inventory insert');
    assert.equal((await h.call('GET', '/v1/devices?cursor=garbage')).status, 400);

    for (const sort of ['ip', '-risk', '-lastSeen']) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await h.call(
          'GET',
          `/v1/devices?limit=7&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`,
        );
        assert.equal(res.status, 200);
        const b = res.body as { items: Json[]; nextCursor: string | null };
        seen.push(...b.items.map((d) => d.ip as string));
        cursor = b.nextCursor;
      } while (cursor);
      assert.equal(seen.length, 32, `sort ${sort}: every device once`);
      assert.equal(new Set(seen).size, 32);
      if (sort === '-risk') {
        const all = items((await h.call('GET', '/v1/devices?limit=1000&sort=-risk')).body);
        assert.deepEqual(
          seen,
          all.map((d) => d.ip),
        );
        assert.ok(all.every((d, i) => i === 0 || (all[i - 1]!.risk as number) >= (d.risk as number)));
      }
    }
  });

  test('CSV export: header, one row per filtered device, RFC 4180 quoting, formulas defused', async () => {
    await h.call('PATCH', '/v1/devices/10.20.1.7', {
      body: { label: '=HYPERLINK("http://evil")', owner: 'Dr. "Quote", MD' },
    });
    const res = await h.call('GET', '/v1/devices.csv?class=infusion-pump');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
    const lines = res.text.trimEnd().split('\r\n');
    assert.equal(lines[0]!.split(',')[0], 'ip');
    assert.equal(lines.length, 11);
    const row7 = lines.find((l) => l.startsWith('10.20.1.7,'))!;
    assert.ok(row7.includes(`"'=HYPERLINK(""http://evil"")"`), row7);
    assert.ok(row7.includes('"Dr. ""Quote"", MD"'), row7);
  });

  test('PATCH analyst fields: validated, applied, audited with before and after; class override wins', async () => {
    const res = await h.call('PATCH', '/v1/devices/10.20.1.1', {
      role: 'analyst',
      body: {
        label: 'Pump 1',
        owner: 'Biomed',
        department: 'ICU',
        criticality: 'critical',
        classOverride: 'syringe-pump',
      },
    });
    assert.equal(res.status, 200);
    const d = res.body as Json;
    assert.equal(d.class, 'syringe-pump');
    assert.equal(d.inferredClass, 'infusion-pump');
    assert.equal(d.criticality, 'critical');
    assert.equal(
      (await h.call('PATCH', '/v1/devices/10.20.1.1', { body: { criticality: 'extreme' } })).status,
      400,
    );
    assert.equal((await h.call('PATCH', '/v1/devices/10.20.1.1', { body: { color: 'red' } })).status, 400);
    assert.equal((await h.call('PATCH', '/v1/devices/10.99.9.9', { body: { label: 'x' } })).status, 404);
    assert.equal(
      (await h.call('PATCH', '/v1/devices/10.20.1.1', { role: 'viewer', body: { label: 'x' } })).status,
      403,
    );
    const cleared = await h.call('PATCH', '/v1/devices/10.20.1.1', { body: { classOverride: null } });
    assert.equal((cleared.body as Json).class, 'infusion-pump');
    const audit = await h.call('GET', '/v1/audit?targetType=device&targetId=10.20.1.1');
    const entries = items(audit.body);
    assert.equal(entries.length, 2);
    const first = entries[1]!;
    assert.equal(first.action, 'device.update');
    assert.equal(first.actorName, 'test-analyst');
    assert.equal(first.actorRole, 'analyst');
    assert.deepEqual((first.before as Json).label, null);
    assert.deepEqual((first.after as Json).label, 'Pump 1');
    assert.equal((first.after as Json).classOverride, 'syringe-pump');
    // null clears a text field: stored as NULL, not as an empty string coerced from null.
    const unlabelled = await h.call('PATCH', '/v1/devices/10.20.1.1', { body: { label: null, owner: null } });
    assert.equal(unlabelled.status, 200);
    assert.equal((unlabelled.body as Json).label, null);
    assert.equal((unlabelled.body as Json).owner, null);
    const { rows } = await h.db.pool.query(`SELECT label, owner FROM devices WHERE ip = '10.20.1.1'`);
    assert.deepEqual(rows[0], { label: null, owner: null });
  });

  test('device detail: classification, open alerts, policy, quarantine, behaviour profile and baselines', async () => {
    await seedProfile(h, '10.20.1.2', [{ peer: '10.30.0.1/32', port: 443 }]);
    await h.db.pool.query(
      `INSERT INTO device_baselines (device_ip, metric, slot, n, mean, m2, last_bucket)
       VALUES ('10.20.1.2', 'bytes_out', -1, 5, 100, 40, now())`,
    );
    await seedAlert(h.db, { deviceIp: '10.20.1.2', kind: 'new-peer', evidence: { peer: '8.8.8.8' } });
    const res = await h.call('GET', '/v1/devices/10.20.1.2', { role: 'viewer' });
    assert.equal(res.status, 200);
    const b = res.body as Json;
    assert.equal(b.ip, '10.20.1.2');
    assert.equal(b.bytesSent, 1000);
    assert.equal(b.openAlerts, 1);
    assert.equal((b.alerts as Json[]).length, 1);
    assert.equal((b.profile as Json[])[0]!.servicePort, 443);
    assert.equal((b.baselines as Json[])[0]!.stddev, Math.sqrt(10));
    assert.equal(b.policy, null);
    assert.equal((await h.call('GET', '/v1/devices/10.99.0.1')).status, 404);
    assert.equal((await h.call('GET', '/v1/devices/not-an-ip')).status, 400);
  });

  test('concurrent detail requests (batched into one statement) each get their own device', async () => {
    await seedDevices(h.db, [{ ip: '2001:db8::10', class: 'workstation' }]);
    const ips = [
      '10.20.1.1',
      '10.20.1.2',
      '2001:DB8:0::10',
      '10.99.99.99',
      '10.20.1.3',
      '10.20.1.1',
      'fe80::1%25eth0',
    ];
    const res = await Promise.all(ips.map((ip) => h.call('GET', `/v1/devices/${ip}`, { role: 'viewer' })));
    assert.deepEqual(
      res.map((r) => r.status),
      [200, 200, 200, 404, 200, 200, 400],
    );
    assert.deepEqual(
      res.filter((r) => r.status === 200).map((r) => (r.body as Json).ip),
      ['10.20.1.1', '10.20.1.2', '2001:db8::10', '10.20.1.3', '10.20.1.1'],
    );
    await h.db.pool.query("DELETE FROM devices WHERE ip = '2001:db8::10'");
  });

  test('alerts: filter, detail with evidence, acknowledge, assign, comment, resolve with reason, bulk', async () => {
    const ids = [];
    for (let i = 11; i <= 15; i++)
      ids.push(
        await seedAlert(h.db, {
          deviceIp: `10.20.1.${i}`,
          kind: 'exfiltration',
          severity: i % 2 ? 'critical' : 'medium',
        }),
      );
    const crit = items((await h.call('GET', '/v1/alerts?minSeverity=high&kind=exfiltration')).body);
    assert.equal(crit.length, 3);
    const id = ids[0]!;
    const detail = await h.call('GET', `/v1/alerts/${id}`, { role: 'viewer' });
    assert.equal(detail.status, 200);
    assert.deepEqual((detail.body as Json).evidence, {});
    const ack = await h.call('POST', `/v1/alerts/${id}/acknowledge`, {
      role: 'analyst',
      body: { comment: 'looking' },
    });
    assert.equal(ack.status, 200);
    assert.equal((ack.body as Json).status, 'acknowledged');
    assert.equal((await h.call('POST', `/v1/alerts/${id}/acknowledge`, { body: {} })).status, 409);
    assert.equal(
      ((await h.call('POST', `/v1/alerts/${id}/assign`, { body: { assignee: 'alice' } })).body as Json)
        .assignee,
      'alice',
    );
    assert.equal(
      ((await h.call('POST', `/v1/alerts/${id}/assign`, { body: { assignee: null } })).body as Json).assignee,
      null,
      'null unassigns',
    );
    assert.equal(
      (await h.call('POST', `/v1/alerts/${id}/comments`, { body: { body: 'pump firmware 2.1' } })).status,
      201,
    );
    assert.equal(
      (await h.call('POST', `/v1/alerts/${id}/resolve`, { body: {} })).status,
      400,
      'a reason is required',
    );
    const resolved = await h.call('POST', `/v1/alerts/${id}/resolve`, {
      body: { reason: 'vendor maintenance window' },
    });
    assert.equal((resolved.body as Json).resolution, 'vendor maintenance window');
    const again = (await h.call('GET', `/v1/alerts/${id}`)).body as Json;
    assert.deepEqual(
      (again.comments as Json[]).map((c) => c.body),
      ['looking', 'pump firmware 2.1', 'Resolved: vendor maintenance window'],
    );
    const bulk = await h.call('POST', '/v1/alerts/bulk', {
      body: { ids: [...ids.slice(1), id, 999999], action: 'resolve', reason: 'false positive: backup job' },
    });
    assert.equal(bulk.status, 200);
    const results = (bulk.body as { results: Array<{ id: number; ok: boolean; code?: string }> }).results;
    assert.equal(results.filter((r) => r.ok).length, 4);
    assert.equal(results.find((r) => r.id === id)!.code, 'ALERT_RESOLVED');
    assert.equal(results.find((r) => r.id === 999999)!.code, 'ALERT_NOT_FOUND');
    const open = items((await h.call('GET', '/v1/alerts?status=open&kind=exfiltration')).body);
    assert.equal(open.length, 0);
    const audit = items((await h.call('GET', `/v1/audit?targetType=alert&targetId=${id}`)).body);
    assert.deepEqual(audit.map((a) => a.action).reverse(), [
      'alert.acknowledge',
      'alert.assign',
      'alert.assign',
      'alert.comment',
      'alert.resolve',
    ]);
  });

  test('policies: CRUD, semantic rule checks, assignment to device and class, device assignment wins', async () => {
    assert.equal(
      (await h.call('PUT', '/v1/server-groups/pacs', { body: { cidrs: ['10.30.0.0/24'] } })).status,
      200,
    );
    const bad = await h.call('POST', '/v1/policies', {
      body: {
        name: 'bad',
        rules: [{ peer: { group: 'nope' } }, { peer: { cidr: '10.0.0.0/99' }, ports: [1] }],
      },
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { code: string } }).error.code, 'BAD_RULES');
    const created = await h.call('POST', '/v1/policies', {
      role: 'analyst',
      body: {
        name: 'pump-baseline',
        rules: [
          { peer: { group: 'pacs' }, protocol: 6, ports: [443], direction: 'from-device' },
          { peer: { local: true }, protocol: 17, ports: [53, 123] },
          {
            peer: { cidr: '192.0.2.0/24' },
            protocol: 6,
            ports: [8443],
            direction: 'from-device',
            maxBytesPerMinute: 100000,
          },
        ],
        internalOnly: false,
        action: 'alert',
      },
    });
    assert.equal(created.status, 201);
    const p = created.body as Json;
    assert.equal(
      (await h.call('POST', '/v1/policies', { body: { name: 'pump-baseline', rules: [] } })).status,
      409,
    );
    const strict = (
      await h.call('POST', '/v1/policies', { body: { name: 'strict', rules: [], action: 'quarantine' } })
    ).body as Json;
    assert.equal(
      (await h.call('POST', `/v1/policies/${p.id}/assignments`, { body: { deviceClass: 'infusion-pump' } }))
        .status,
      201,
    );
    assert.equal(
      (await h.call('POST', `/v1/policies/${strict.id}/assignments`, { body: { deviceIp: '10.20.1.4' } }))
        .status,
      201,
    );
    const viaClass = (await h.call('GET', '/v1/devices/10.20.1.3/policy')).body as {
      via: string;
      policy: Json;
    };
    assert.equal(viaClass.via, 'class');
    assert.equal(viaClass.policy.name, 'pump-baseline');
    const viaDevice = (await h.call('GET', '/v1/devices/10.20.1.4/policy')).body as {
      via: string;
      policy: Json;
    };
    assert.equal(viaDevice.via, 'device');
    assert.equal(viaDevice.policy.name, 'strict');
    assert.equal((await h.call('GET', '/v1/devices/10.20.1.15/policy')).status, 404);
    const patched = await h.call('PATCH', `/v1/policies/${p.id}`, {
      body: { description: 'pumps talk to PACS only' },
    });
    assert.equal((patched.body as Json).description, 'pumps talk to PACS only');
    assert.equal(((patched.body as Json).rules as Json[]).length, 3);
    assert.equal((await h.call('DELETE', '/v1/server-groups/pacs')).status, 409, 'a group in use cannot go');
    const list = items((await h.call('GET', '/v1/policies', { role: 'viewer' })).body);
    assert.equal(list.length, 2);
    // Per-policy EDLs.
    const devs = await h.call('GET', `/v1/feeds/policies/${p.id}/devices.txt`);
    const lines = assertEdl(devs.text);
    assert.equal(lines.length, 9, 'the ten pumps less the one with its own policy');
    assert.ok(!lines.includes('10.20.1.4'));
    assert.ok(lines.every((l) => /^10\.20\.1\.\d+$/.test(l)));
    const allowed = await h.call('GET', `/v1/feeds/policies/${p.id}/allowed.txt`);
    assert.deepEqual(assertEdl(allowed.text), ['10.30.0.0/24', '192.0.2.0/24']);
    const del = await h.call('DELETE', `/v1/policies/${strict.id}`);
    assert.equal(del.status, 204);
    assert.equal(
      ((await h.call('GET', '/v1/devices/10.20.1.4/policy')).body as { via: string }).via,
      'class',
    );
  });

  test('learn drafts a policy from the profile, and the MUD file of it validates (RFC 8520 structure)', async () => {
    await seedProfile(h, '10.20.1.8', [
      { peer: '10.30.0.2/32', port: 443 },
      { peer: '10.30.0.2/32', port: 104 },
      { peer: '10.20.1.11/32', port: 3389, dir: 'inbound' },
      { peer: '10.20.1.21/32', port: 161, proto: 17 },
      { peer: '203.0.113.7/32', port: 443, internal: false, hoursAgo: 100 },
    ]);
    const learned = await h.call('POST', '/v1/devices/10.20.1.8/policy/learn', {
      role: 'analyst',
      body: { save: true, name: 'pump-8' },
    });
    assert.equal(learned.status, 200);
    const { draft, basis, saved } = learned.body as { draft: Json; basis: Json; saved: Json };
    assert.equal(basis.source, 'device_profiles');
    assert.equal(basis.entries, 5);
    const rules = draft.rules as Array<{ peer: Json; ports?: number[]; direction: string; protocol: number }>;
    // The PACS host is inside the "pacs" server group, which wins over its device class.
    const pacs = rules.find((r) => r.peer.group === 'pacs')!;
    assert.deepEqual(pacs.ports, [104, 443]);
    assert.equal(pacs.direction, 'from-device');
    assert.ok(rules.some((r) => r.peer.class === 'workstation' && r.direction === 'to-device'));
    assert.ok(rules.some((r) => r.peer.cidr === '203.0.113.7/32'));
    assert.equal(draft.internalOnly, false);
    assert.equal(saved.enabled, false, 'a learned policy starts disabled');
    const recent = (await h.call('POST', '/v1/devices/10.20.1.8/policy/learn', { body: { hours: 24 } }))
      .body as { draft: Json };
    assert.equal(recent.draft.internalOnly, true, 'the external peer is older than the window');
    // A disabled draft is not in force: the device's MUD file is still its class's policy until it is enabled.
    const before = (await h.call('GET', '/v1/devices/10.20.1.8/mud', { role: 'viewer' })).body;
    assert.ok(!JSON.stringify(before).includes(`wardwatch-${saved.id}-`));
    assert.equal(
      (await h.call('PATCH', `/v1/policies/${saved.id}`, { body: { enabled: true } })).status,
      200,
    );
    const mud = await h.call('GET', '/v1/devices/10.20.1.8/mud', { role: 'viewer' });
    assert.equal(mud.status, 200);
    assert.match(mud.headers.get('content-type') ?? '', /application\/mud\+json/);
    assert.deepEqual(validateMud(mud.body), []);
    const doc = mud.body as Json;
    const acls = (
      doc['ietf-access-control-list:acls'] as { acl: Array<{ name: string; aces: { ace: Json[] } }> }
    ).acl;
    const fr = acls.find((a) => a.name.endsWith('v4fr'))!;
    const ace443 = fr.aces.ace.find(
      (a) =>
        ((a.matches as Json).tcp as Json | undefined)?.['destination-port'] !== undefined &&
        (((a.matches as Json).tcp as Json)['destination-port'] as Json).port === 443 &&
        (a.matches as Json)['ietf-mud:mud'] !== undefined,
    );
    assert.ok(ace443, 'a from-device ACE for the PACS group on 443');
    assert.equal(
      ((ace443!.matches as Json)['ietf-mud:mud'] as Json).controller,
      'urn:wardwatch:server-group:pacs',
    );
    assert.ok(JSON.stringify(doc).includes('urn:wardwatch:device-class:workstation'));
    // A policy with CIDR, local and group peers renders too.
    const pump = await h.call('GET', '/v1/devices/10.20.1.3/mud');
    assert.equal(pump.status, 200);
    assert.deepEqual(validateMud(pump.body), []);
    const text = JSON.stringify(pump.body);
    assert.ok(text.includes('"destination-ipv4-network":"192.0.2.0/24"'));
    assert.ok(text.includes('"local-networks":[null]'));
    assert.ok(text.includes('urn:wardwatch:server-group:pacs'));
    assert.equal((await h.call('GET', '/v1/devices/10.20.1.25/mud')).status, 404);
    assert.equal((await h.call('GET', '/v1/devices/10.20.1.25/mud?source=learned')).status, 200);
  });

  test('quarantine: dry run replays the window against the policy; then quarantine, feed, expiry, release', async () => {
    await seedProfile(h, '10.20.1.9', [
      { peer: '10.30.0.1/32', port: 443 },
      { peer: '198.51.100.9/32', port: 22, internal: false },
      { peer: '198.51.100.10/32', port: 80, internal: false, hoursAgo: 48 },
    ]);
    const dry = await h.call('POST', '/v1/devices/10.20.1.9/quarantine', {
      role: 'analyst',
      body: { reason: 'suspected exfiltration', dryRun: true, hours: 24 },
    });
    assert.equal(dry.status, 200);
    const d = dry.body as { flowsConsidered: number; wouldBlock: Json[]; wouldAllow: number; policy: Json };
    assert.equal(d.policy.name, 'pump-baseline');
    assert.equal(d.flowsConsidered, 2);
    assert.equal(d.wouldAllow, 1);
    assert.deepEqual(
      d.wouldBlock.map((b) => b.peer),
      ['198.51.100.9/32'],
    );
    assert.equal(
      ((await h.call('GET', '/v1/devices/10.20.1.9')).body as Json).quarantined,
      false,
      'dry run changes nothing',
    );

    const q = await h.call('POST', '/v1/devices/10.20.1.9/quarantine', {
      role: 'analyst',
      body: { reason: 'suspected exfiltration', durationMinutes: 60 },
    });
    assert.equal(q.status, 201);
    assert.equal(
      (await h.call('POST', '/v1/devices/10.20.1.9/quarantine', { body: { reason: 'again' } })).status,
      409,
    );
    const feed = await h.call('GET', '/v1/feeds/quarantined.txt', { role: 'viewer' });
    assert.deepEqual(assertEdl(feed.text), ['10.20.1.9']);
    assert.match(feed.headers.get('content-type') ?? '', /^text\/plain/);
    const events = await h.db.pool.query("SELECT payload FROM events WHERE type = 'device.quarantined'");
    assert.equal(events.rows.length, 1);
    // Expiry: move it into the past; the sweeper releases it and says so.
    await h.db.pool.query(
      "UPDATE quarantines SET expires_at = now() - interval '1 second' WHERE released_at IS NULL",
    );
    await waitFor(
      async () => ((await h.call('GET', '/v1/feeds/quarantined.txt')).text === '' ? true : undefined),
      { what: 'expiry release', timeoutMs: 15_000 },
    );
    const hist = items((await h.call('GET', '/v1/devices/10.20.1.9/quarantines')).body);
    assert.equal(hist[0]!.releasedBy, 'system:expiry');
    assert.equal(
      (await h.call('POST', '/v1/devices/10.20.1.9/release', { body: { reason: 'x' } })).status,
      409,
    );
    // Manual quarantine and release.
    assert.equal(
      (await h.call('POST', '/v1/devices/10.20.1.9/quarantine', { body: { reason: 'again' } })).status,
      201,
    );
    const rel = await h.call('POST', '/v1/devices/10.20.1.9/release', {
      role: 'analyst',
      body: { reason: 'reimaged' },
    });
    assert.equal(rel.status, 200);
    assert.equal((rel.body as Json).releaseReason, 'reimaged');
    const types = (
      await h.db.pool.query(
        "SELECT type FROM events WHERE type LIKE 'device.%' AND type <> 'device.new' ORDER BY id",
      )
    ).rows.map((r) => r.type);
    assert.deepEqual(types, [
      'device.quarantined',
      'device.released',
      'device.quarantined',
      'device.released',
    ]);
  });

  test("a policy with action quarantine quarantines the device on analytics' request (trusted evidence)", async () => {
    const p = (
      await h.call('POST', '/v1/policies', {
        body: { name: 'monitors-strict', rules: [], action: 'quarantine' },
      })
    ).body as Json;
    await h.call('POST', `/v1/policies/${p.id}/assignments`, { body: { deviceClass: 'patient-monitor' } });
    await h.call('PUT', '/v1/exporters/192.0.2.250/trust', { body: { state: 'trusted' } });
    await seedEnforcementRequest(h.db, {
      deviceIp: '10.20.1.22',
      policyId: p.id as number,
      exporters: ['192.0.2.250'],
    });
    await waitFor(
      async () => {
        const res = await h.call('GET', '/v1/feeds/quarantined.txt');
        return res.text.includes('10.20.1.22') ? true : undefined;
      },
      { what: 'policy-driven quarantine', timeoutMs: 20_000 },
    );
    const q = items((await h.call('GET', '/v1/quarantines')).body).find((x) => x.deviceIp === '10.20.1.22')!;
    assert.equal(q.source, 'policy');
    assert.equal(q.policyId, p.id);
  });

  test('old settled events are pruned; pending ones and those a reader has not passed are kept', async () => {
    const ins = async (days: number) =>
      (
        await h.db.pool.query<{ id: number }>(
          `INSERT INTO events (type, payload, created_at) VALUES ('device.new', '{}', now() - make_interval(days => $1)) RETURNING id`,
          [days],
        )
      ).rows[0]!.id;
    const old = await ins(40);
    const oldPending = await ins(41);
    const hook = await h.db.pool.query<{ id: string }>(
      `INSERT INTO webhooks (url, events, secret, created_by, enabled) VALUES ('http://127.0.0.1:9/x', ARRAY['none'], 'plain:x', 't', false) RETURNING id`,
    );
    await h.db.pool.query(
      "INSERT INTO webhook_deliveries (webhook_id, event_id, next_attempt_at) VALUES ($1, $2, now() + interval '1 day')",
      [hook.rows[0]!.id, oldPending],
    );
    const recent = await ins(1);
    // A reader that has not got to them yet holds them back.
    const seqOf = async (id: number) =>
      Number((await h.db.pool.query('SELECT seq FROM events WHERE id = $1', [id])).rows[0]!.seq);
    await h.db.pool.query("INSERT INTO outbox_cursors (name, last_seq) VALUES ('test-reader', $1)", [
      (await seqOf(old)) - 1,
    ]);
    await waitFor(
      async () => {
        const c = await h.db.pool.query("SELECT last_seq FROM outbox_cursors WHERE name = 'enforcer'");
        return Number(c.rows[0]?.last_seq) >= (await seqOf(recent)) ? true : undefined;
      },
      { what: 'the enforcer passes the events', timeoutMs: 20_000 },
    );
    assert.equal(await pruneEvents(h.db.pool, 30), 0, 'test-reader has not read them');
    await h.db.pool.query("UPDATE outbox_cursors SET last_seq = $1 WHERE name = 'test-reader'", [
      await seqOf(recent),
    ]);
    assert.ok((await pruneEvents(h.db.pool, 30)) >= 1);
    const left = await h.db.pool.query('SELECT id FROM events WHERE id = ANY($1)', [
      [old, oldPending, recent],
    ]);
    assert.deepEqual(left.rows.map((r) => r.id).sort(), [oldPending, recent].sort());
    await h.db.pool.query("DELETE FROM outbox_cursors WHERE name = 'test-reader'");
    await h.db.pool.query('DELETE FROM webhooks WHERE id = $1', [hook.rows[0]!.id]);
  });

  test('exporter list and configuration for every vendor', async () => {
    await h.db.pool.query(
      `INSERT INTO exporters (address, observation_domain, version, packets, records, records_per_second, templates, sequence_lost)
       VALUES ('10.0.0.254', 0, 10, 1000, 30000, 250.5, 3, 12)`,
    );
    const list = items((await h.call('GET', '/v1/exporters', { role: 'viewer' })).body);
    assert.equal(list[0]!.sequenceLost, 12);
    assert.equal(list[0]!.recordsPerSecond, 250.5);
    const expect: Record<string, RegExp> = {
      'cisco-iosxe':
        /flow exporter WARDWATCH[\s\S]*destination 10\.1\.2\.3[\s\S]*transport udp 4739[\s\S]*export-protocol ipfix/,
      junos: /flow-server 10\.1\.2\.3 port 4739/,
      mikrotik: /\/ip traffic-flow target add dst-address=10\.1\.2\.3 port=4739 version=ipfix/,
      fortigate: /set collector-ip 10\.1\.2\.3\n\s+set collector-port 4739/,
      panos: /server-profile netflow Wardwatch server wardwatch host 10\.1\.2\.3 port 4739/,
      softflowd: /softflowd -i eth0 -n 10\.1\.2\.3:4739 -v 10/,
    };
    for (const [vendor, re] of Object.entries(expect)) {
      const proto = vendor === 'fortigate' || vendor === 'panos' ? 'netflow-v9' : 'ipfix';
      const res = await h.call(
        'GET',
        `/v1/exporters/config?vendor=${vendor}&collector=10.1.2.3:4739&protocol=${proto}`,
      );
      assert.equal(res.status, 200, vendor);
      assert.match(res.text, re, vendor);
    }
    const v6 = await h.call(
      'GET',
      '/v1/exporters/config?vendor=softflowd&collector=[2001:db8::1]:2055&protocol=netflow-v9',
    );
    assert.match(v6.text, /-n \[2001:db8::1\]:2055 -v 9/);
    assert.equal(
      (await h.call('GET', '/v1/exporters/config?vendor=panos&collector=10.1.2.3:4739&protocol=ipfix'))
        .status,
      400,
    );
    assert.equal(
      (await h.call('GET', '/v1/exporters/config?vendor=junos&collector=10.1.2.3;reboot:4739')).status,
      400,
    );
    assert.equal(
      (await h.call('GET', '/v1/exporters/config?vendor=junos&collector=10.1.2.3:99999')).status,
      400,
    );
    // Junos and FortiOS export from an address: an interface name would render a config they refuse.
    const named = await h.call(
      'GET',
      '/v1/exporters/config?vendor=junos&collector=10.1.2.3:4739&sourceInterface=lo0',
    );
    assert.equal(named.status, 400);
    assert.equal((named.body as { error: { code: string } }).error.code, 'BAD_SOURCE');
    const addressed = await h.call(
      'GET',
      '/v1/exporters/config?vendor=fortigate&collector=10.1.2.3:2055&sourceInterface=10.9.9.1',
    );
    assert.match(addressed.text, /set source-ip 10\.9\.9\.1/);
    assert.equal(
      (
        await h.call(
          'GET',
          '/v1/exporters/config?vendor=cisco-iosxe&collector=10.1.2.3:4739&sourceInterface=Loopback0',
        )
      ).status,
      200,
    );
    assert.equal(
      (await h.call('GET', '/v1/exporters/config?vendor=vyos&collector=10.1.2.3:4739')).status,
      400,
    );
  });

  test('API keys: the admin endpoint creates a key of a role, shown once; viewers cannot create keys', async () => {
    const res = await h.call('POST', '/v1/apikeys', { body: { name: 'soar', role: 'analyst' } });
    assert.equal(res.status, 201);
    const key = (res.body as { key: string }).key;
    const asSoar = await h.call('POST', '/v1/alerts/bulk', {
      role: null,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: { ids: [1], action: 'assign', assignee: 'soar' },
    });
    assert.equal(asSoar.status, 200);
    assert.equal(
      (await h.call('POST', '/v1/apikeys', { role: 'analyst', body: { name: 'x', role: 'admin' } })).status,
      403,
    );
    const listed = items((await h.call('GET', '/v1/apikeys')).body);
    assert.ok(listed.some((k) => k.name === 'soar' && k.role === 'analyst' && k.createdBy === 'test-admin'));
    assert.ok(!JSON.stringify(listed).includes(key));
  });

  test('security headers, one error shape, no internals in 5xx, unknown routes', async () => {
    const res = await h.call('GET', '/v1/devices');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(res.headers.get('strict-transport-security'));
    assert.ok(res.headers.get('content-security-policy'));
    assert.equal(res.headers.get('x-frame-options'), 'DENY'); // the console may not be framed
    const nf = await h.call('GET', '/v1/nothing-here');
    assert.equal(nf.status, 404);
    // Refusals carry them too: no key, and an unknown route.
    const anonymous = await h.call('GET', '/v1/devices', { role: null });
    assert.equal(anonymous.status, 401);
    for (const r of [anonymous, nf]) {
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      assert.ok(r.headers.get('x-request-id'));
    }
    assert.equal((nf.body as { error: { code: string } }).error.code, 'NOT_FOUND');
    const docs = await h.call('GET', '/docs', { role: 'viewer' });
    assert.equal(docs.status, 200);
    assert.equal((await h.call('GET', '/docs', { role: null })).status, 401);
  });

  test("every response carries a request id: the caller's x-request-id, else a new one", async () => {
    const given = await h.call('GET', '/v1/devices', { headers: { 'x-request-id': 'soc-ticket-4711' } });
    assert.equal(given.headers.get('x-request-id'), 'soc-ticket-4711');
    const fresh = await h.call('GET', '/v1/devices');
    assert.match(fresh.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const denied = await h.call('GET', '/v1/devices', { role: null });
    assert.equal(denied.status, 401);
    assert.ok(denied.headers.get('x-request-id'));
  });

  test('the OpenAPI document is valid OpenAPI 3 and covers every route', async () => {
    const res = await h.call('GET', '/openapi.json', { role: 'viewer' });
    assert.equal(res.status, 200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, Json>> };
    assert.equal(doc.openapi, '3.0.3');
    await SwaggerParser.validate(structuredClone(doc) as never);
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    );
    for (const r of h.service.app().routeTable) {
      // Not API operations: the documentation and the console's files.
      if (
        r.url.startsWith('/docs') ||
        r.url === '/openapi.json' ||
        r.url === '/' ||
        r.url.startsWith('/assets/')
      )
        continue;
      const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
      assert.ok(documented.has(`${r.method} ${path}`), `${r.method} ${path} is documented`);
      const op = doc.paths[path]![r.method.toLowerCase()]!;
      assert.deepEqual(
        op.security,
        r.auth === 'public' ? [] : [{ apiKey: [] }, { session: [] }],
        `${r.method} ${path} security`,
      );
    }
  });

  test('device list and detail bodies (sent as PostgreSQL built them) match their OpenAPI response schemas', async () => {
    const res = await h.call('GET', '/openapi.json', { role: 'viewer' });
    const doc = (await SwaggerParser.dereference(structuredClone(res.body) as never)) as unknown as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { content: Record<string, { schema: Json }> }> }>
      >;
    };
    const schemaOf = (path: string) =>
      doc.paths[path]!.get!.responses['200']!.content['application/json']!.schema;
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const list = ajv.compile(schemaOf('/v1/devices'));
    const detail = ajv.compile(schemaOf('/v1/devices/{ip}'));
    const deviceKeys = Object.keys(
      (schemaOf('/v1/devices') as { properties: { items: { items: { properties: Json } } } }).properties.items
        .items.properties,
    ).sort();
    let checked = 0;
    for (const query of ['', '?sort=-risk&limit=3', '?sort=-lastSeen&limit=2', '?hasOpenAlerts=true']) {
      const page = await h.call('GET', `/v1/devices${query}`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^application\/json/);
      assert.ok(list(page.body), `list${query}: ${ajv.errorsText(list.errors)}`);
      for (const d of items(page.body)) {
        assert.deepEqual(
          Object.keys(d).sort(),
          deviceKeys,
          `list${query}: the Device keys, no more, no fewer`,
        );
        const one = await h.call('GET', `/v1/devices/${d.ip}`);
        assert.equal(one.status, 200);
        assert.ok(detail(one.body), `detail ${d.ip}: ${ajv.errorsText(detail.errors)}`);
        const {
          classEvidence,
          alerts,
          policy,
          quarantine,
          profile,
          baselines,
          model,
          lifeCritical,
          lifeCriticalOverride,
          ...device
        } = one.body as Json;
        assert.equal(typeof lifeCritical, 'boolean', `detail ${d.ip}: lifeCritical`);
        assert.equal(lifeCriticalOverride, null, `detail ${d.ip}: no override set`);
        assert.deepEqual(device, d, `detail ${d.ip} carries the list's device object`);
        checked++;
      }
    }
    assert.ok(checked >= 5, `checked ${checked} devices`);
  });

  test('concurrent comments on one alert: each answer is the comment its request created', async () => {
    const id = await seedAlert(h.db, { deviceIp: '10.20.1.9', kind: 'comment-race' });
    const bodies = Array.from({ length: 12 }, (_, i) => `analyst note ${i}`);
    const answers = await Promise.all(
      bodies.map((body) => h.call('POST', `/v1/alerts/${id}/comments`, { role: 'analyst', body: { body } })),
    );
    for (const [i, res] of answers.entries()) {
      assert.equal(res.status, 201);
      assert.equal((res.body as Json).body, bodies[i], `request ${i} gets its own comment back`);
    }
    assert.equal(new Set(answers.map((r) => (r.body as Json).id)).size, bodies.length);
  });

  test('JSON bodies are taken as typed: null is not protocol 0 or enabled false, true is not protocol 1', async () => {
    const created = await h.call('POST', '/v1/policies', {
      body: { name: 'typed-body', rules: [{ peer: { any: true }, protocol: 6 }] },
    });
    assert.equal(created.status, 201);
    const id = (created.body as Json).id;
    for (const protocol of [null, true, '6']) {
      const res = await h.call('POST', '/v1/policies', {
        body: { name: `typed-body-${String(protocol)}`, rules: [{ peer: { any: true }, protocol }] },
      });
      assert.equal(res.status, 400, `protocol ${JSON.stringify(protocol)} is refused`);
      assert.equal((res.body as { error: Json }).error.code, 'VALIDATION_FAILED');
    }
    const patched = await h.call('PATCH', `/v1/policies/${id}`, { body: { enabled: null } });
    assert.equal(patched.status, 400, 'enabled: null is refused, not read as false');
    const after = await h.call('GET', `/v1/policies/${id}`);
    assert.equal((after.body as Json).enabled, true, 'the policy is still enabled');
    // Query strings are text and still convert.
    assert.equal((await h.call('GET', '/v1/devices?hasOpenAlerts=false&minRisk=10&limit=5')).status, 200);
  });

  test('a rule or server group with an IPv6 zone id is refused: it names no network a firewall can use', async () => {
    for (const cidr of ['fe80::1%eth0/64', 'fe80::1%eth0']) {
      const res = await h.call('POST', '/v1/policies', {
        body: { name: `zone-${cidr}`, rules: [{ peer: { cidr }, protocol: 6, ports: [443] }] },
      });
      assert.equal(res.status, 400, cidr);
      assert.equal((res.body as { error: Json }).error.code, 'BAD_RULES', cidr);
      const group = await h.call('PUT', '/v1/server-groups/zoned', { body: { cidrs: [cidr] } });
      assert.equal(group.status, 400, cidr);
      assert.equal((group.body as { error: Json }).error.code, 'BAD_CIDR', cidr);
    }
  });

  test('releasing a device that is not in the inventory is 404 DEVICE_NOT_FOUND, not "not quarantined"', async () => {
    const res = await h.call('POST', '/v1/devices/10.99.9.9/release', {
      role: 'analyst',
      body: { reason: 'typo' },
    });
    assert.equal(res.status, 404);
    assert.equal((res.body as { error: Json }).error.code, 'DEVICE_NOT_FOUND');
    const known = await h.call('POST', '/v1/devices/10.20.1.11/release', {
      role: 'analyst',
      body: { reason: 'x' },
    });
    assert.equal(known.status, 409);
    assert.equal((known.body as { error: Json }).error.code, 'NOT_QUARANTINED');
  });

  test('text search finds an IPv6 device however the analyst cases the address', async () => {
    await seedDevices(h.db, [{ ip: '2001:db8:77::5', class: 'infusion-pump' }]);
    for (const q of ['2001:db8:77', '2001:DB8:77', '2001:Db8:77::5']) {
      const found = items(
        (await h.call('GET', `/v1/devices?q=${encodeURIComponent(q)}`, { role: 'viewer' })).body,
      );
      assert.deepEqual(
        found.map((d) => d.ip),
        ['2001:db8:77::5'],
        q,
      );
    }
  });

  test('allowed.txt lists each network once, in canonical form, however rules and groups spell it', async () => {
    // The same networks written as an analyst might: a bare host, host bits set, IPv6 in capitals;
    // the server group stores them canonically (PostgreSQL cidr).
    const group = await h.call('PUT', '/v1/server-groups/edl-dupes', {
      body: { cidrs: ['10.40.0.5', '2001:db8:1::/48', '10.50.0.0/16'] },
    });
    assert.equal(group.status, 200);
    const created = await h.call('POST', '/v1/policies', {
      body: {
        name: 'edl-dupes',
        rules: [
          { peer: { cidr: '10.40.0.5' }, protocol: 6, ports: [443] },
          { peer: { cidr: '10.50.0.7/16' }, protocol: 6, ports: [443] },
          { peer: { cidr: '2001:DB8:1::/48' }, protocol: 6, ports: [443] },
          { peer: { group: 'edl-dupes' }, protocol: 6, ports: [443] },
        ],
      },
    });
    assert.equal(created.status, 201);
    const res = await h.call('GET', `/v1/feeds/policies/${(created.body as Json).id}/allowed.txt`, {
      role: 'viewer',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(assertEdl(res.text), ['10.40.0.5/32', '10.50.0.0/16', '2001:db8:1::/48']);
  });

  test('one policy in force everywhere: a disabled device draft is shown, the enabled class policy is enforced', async () => {
    await seedDevices(h.db, [
      { ip: '10.60.0.1', class: 'ventilator' },
      { ip: '10.60.0.2', class: 'ventilator' },
    ]);
    await seedProfile(h, '10.60.0.1', [
      { peer: '10.30.0.1/32', port: 443 },
      { peer: '198.51.100.20/32', port: 22, internal: false },
    ]);
    const vent = (
      await h.call('POST', '/v1/policies', {
        body: {
          name: 'vent-baseline',
          rules: [{ peer: { cidr: '10.30.0.0/24' }, protocol: 6, ports: [443], direction: 'from-device' }],
          action: 'quarantine',
        },
      })
    ).body as Json;
    await h.call('POST', `/v1/policies/${vent.id}/assignments`, { body: { deviceClass: 'ventilator' } });
    // The SOC saves a learned draft (disabled, assigned to the device): it allows everything observed.
    const learned = await h.call('POST', '/v1/devices/10.60.0.1/policy/learn', { body: { save: true } });
    assert.equal(learned.status, 200);
    const draft = (learned.body as { saved: Json }).saved;
    assert.equal(draft.enabled, false);

    // Device detail, GET policy, dry run, MUD and the feeds all name the class policy, the one analytics enforces.
    const detail = (await h.call('GET', '/v1/devices/10.60.0.1')).body as { policy: Json };
    assert.equal(detail.policy.id, vent.id, 'detail: the policy in force');
    assert.equal(detail.policy.via, 'class');
    const inForce = await h.call('GET', '/v1/devices/10.60.0.1/policy');
    assert.equal(inForce.status, 200);
    const body = inForce.body as { via: string; policy: Json; disabled: Json[] };
    assert.equal(body.via, 'class');
    assert.equal(body.policy.id, vent.id);
    assert.deepEqual(
      body.disabled,
      [{ via: 'device', id: draft.id, name: draft.name }],
      'the draft is shown',
    );
    const dry = (
      await h.call('POST', '/v1/devices/10.60.0.1/quarantine', {
        body: { reason: 'what would the policy block', dryRun: true, hours: 24 },
      })
    ).body as { policy: Json; wouldBlock: Json[]; wouldAllow: number };
    assert.equal(dry.policy.id, vent.id, 'dry run: the policy in force');
    assert.deepEqual(
      dry.wouldBlock.map((b) => b.peer),
      ['198.51.100.20/32'],
    );
    const mud = (await h.call('GET', '/v1/devices/10.60.0.1/mud')).body as Json;
    assert.ok(JSON.stringify(mud).includes(`wardwatch-${vent.id}-`), 'MUD of the policy in force');
    assert.deepEqual(assertEdl((await h.call('GET', `/v1/feeds/policies/${vent.id}/devices.txt`)).text), [
      '10.60.0.1',
      '10.60.0.2',
    ]);
    assert.deepEqual(assertEdl((await h.call('GET', `/v1/feeds/policies/${draft.id}/devices.txt`)).text), []);
    // Enforcement acts on the same policy (action quarantine), not on the draft (action alert); a
    // ventilator is life-critical, so the policy's action becomes a request for a person.
    await h.call('PUT', '/v1/exporters/192.0.2.250/trust', { body: { state: 'trusted' } });
    await seedEnforcementRequest(h.db, {
      deviceIp: '10.60.0.1',
      policyId: vent.id as number,
      exporters: ['192.0.2.250'],
    });
    await waitFor(
      async () => {
        const q = items((await h.call('GET', '/v1/quarantine-requests')).body).find(
          (x) => x.deviceIp === '10.60.0.1',
        );
        return q ?? undefined;
      },
      { what: 'policy-driven quarantine request', timeoutMs: 20_000 },
    ).then((q) => {
      assert.equal((q as Json).policyId, vent.id);
      assert.equal((q as Json).why, 'life-critical');
    });

    // Enabled, the device's own policy wins everywhere.
    assert.equal(
      (await h.call('PATCH', `/v1/policies/${draft.id}`, { body: { enabled: true } })).status,
      200,
    );
    const now = (await h.call('GET', '/v1/devices/10.60.0.1/policy')).body as {
      via: string;
      policy: Json;
      disabled: Json[];
    };
    assert.equal(now.via, 'device');
    assert.equal(now.policy.id, draft.id);
    assert.deepEqual(now.disabled, []);
    assert.equal(
      ((await h.call('GET', '/v1/devices/10.60.0.1')).body as { policy: Json }).policy.id,
      draft.id,
    );
    assert.deepEqual(assertEdl((await h.call('GET', `/v1/feeds/policies/${vent.id}/devices.txt`)).text), [
      '10.60.0.2',
    ]);
    assert.deepEqual(assertEdl((await h.call('GET', `/v1/feeds/policies/${draft.id}/devices.txt`)).text), [
      '10.60.0.1',
    ]);
    // With every policy disabled, none is in force: 404 NO_POLICY, detail null, dry run blocks everything.
    await h.call('PATCH', `/v1/policies/${draft.id}`, { body: { enabled: false } });
    await h.call('PATCH', `/v1/policies/${vent.id}`, { body: { enabled: false } });
    const none = await h.call('GET', '/v1/devices/10.60.0.1/policy');
    assert.equal(none.status, 404);
    assert.equal((none.body as { error: Json }).error.code, 'NO_POLICY');
    assert.equal(((await h.call('GET', '/v1/devices/10.60.0.1')).body as Json).policy, null);
    const dryNone = (
      await h.call('POST', '/v1/devices/10.60.0.1/quarantine', { body: { reason: 'x', dryRun: true } })
    ).body as { policy: Json | null; wouldAllow: number };
    assert.equal(dryNone.policy, null);
    assert.equal(dryNone.wouldAllow, 0);
    assert.equal((await h.call('GET', `/v1/feeds/policies/${vent.id}/devices.txt`)).text, '');
  });

  test('learning again updates the saved draft in place (same id, rules replaced, audited), keeping its state', async () => {
    await seedDevices(h.db, [{ ip: '10.61.0.1', class: 'dialysis' }]);
    await seedProfile(h, '10.61.0.1', [{ peer: '10.61.9.1/32', port: 443 }]);
    const first = await h.call('POST', '/v1/devices/10.61.0.1/policy/learn', { body: { save: true } });
    assert.equal(first.status, 200);
    const a = (first.body as { saved: Json }).saved;
    assert.equal(a.name, 'learned-10.61.0.1');
    assert.equal((a.rules as Json[]).length, 1);
    // The SOC reviews and enables the draft; later the profile grows and they learn again.
    assert.equal((await h.call('PATCH', `/v1/policies/${a.id}`, { body: { enabled: true } })).status, 200);
    await seedProfile(h, '10.61.0.1', [{ peer: '203.0.113.50/32', port: 8443, internal: false }]);
    const again = await h.call('POST', '/v1/devices/10.61.0.1/policy/learn', {
      role: 'analyst',
      body: { save: true },
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const b = (again.body as { saved: Json }).saved;
    assert.equal(b.id, a.id, 'the same policy');
    assert.equal(b.name, a.name);
    assert.equal(b.enabled, true, 'enabled as it was');
    const rules = b.rules as Array<{ peer: Json }>;
    assert.equal(rules.length, 2);
    assert.ok(rules.some((r) => r.peer.cidr === '203.0.113.50/32'));
    assert.equal(
      items((await h.call('GET', '/v1/policies')).body).filter((p) => p.name === 'learned-10.61.0.1').length,
      1,
    );
    const inForce = (await h.call('GET', '/v1/devices/10.61.0.1/policy')).body as {
      via: string;
      policy: Json;
    };
    assert.equal(inForce.policy.id, a.id);
    assert.equal(inForce.via, 'device');
    const audit = items((await h.call('GET', `/v1/audit?targetType=policy&targetId=${a.id}`)).body);
    assert.equal(audit[0]!.action, 'policy.learn');
    assert.equal(((audit[0]!.before as Json).rules as Json[]).length, 1);
    assert.equal(((audit[0]!.after as Json).rules as Json[]).length, 2);
    // Another name is another policy, assigned to the device in place of the first.
    const named = await h.call('POST', '/v1/devices/10.61.0.1/policy/learn', {
      body: { save: true, name: 'dialysis-7' },
    });
    assert.equal(named.status, 200);
    const c = (named.body as { saved: Json }).saved;
    assert.notEqual(c.id, a.id);
    assert.equal(c.enabled, false);
    // A name that belongs to a policy of something else is not overwritten.
    const other = (await h.call('POST', '/v1/policies', { body: { name: 'someone-else', rules: [] } }))
      .body as Json;
    const clash = await h.call('POST', '/v1/devices/10.61.0.1/policy/learn', {
      body: { save: true, name: 'someone-else' },
    });
    assert.equal(clash.status, 409);
    assert.equal((clash.body as { error: Json }).error.code, 'ALREADY_EXISTS');
    assert.deepEqual(((await h.call('GET', `/v1/policies/${other.id}`)).body as Json).rules, []);
  });

  test('quarantine with expiresAt null means no expiry', async () => {
    await seedDevices(h.db, [{ ip: '10.62.0.1', class: 'workstation' }]);
    const q = await h.call('POST', '/v1/devices/10.62.0.1/quarantine', {
      role: 'analyst',
      body: { reason: 'until reimaged', expiresAt: null },
    });
    assert.equal(q.status, 201, JSON.stringify(q.body));
    assert.equal((q.body as Json).expiresAt, null);
    const both = await h.call('POST', '/v1/devices/10.62.0.1/quarantine', {
      body: { reason: 'x', expiresAt: null, durationMinutes: 5 },
    });
    assert.equal(both.status, 400);
    assert.equal((both.body as { error: Json }).error.code, 'AMBIGUOUS_EXPIRY');
    await h.call('POST', '/v1/devices/10.62.0.1/release', { body: { reason: 'reimaged' } });
  });

  test('a resolved alert cannot be assigned (409 like acknowledge and resolve); a blank reason is 400', async () => {
    await seedDevices(h.db, [{ ip: '10.62.0.2', class: 'workstation' }]);
    const id = await seedAlert(h.db, { deviceIp: '10.62.0.2', kind: 'new-peer' });
    for (const reason of ['   ', '\t\n']) {
      const blank = await h.call('POST', `/v1/alerts/${id}/resolve`, { body: { reason } });
      assert.equal(blank.status, 400, JSON.stringify(reason));
      assert.equal((blank.body as { error: Json }).error.code, 'REASON_REQUIRED');
      const bulk = await h.call('POST', '/v1/alerts/bulk', {
        body: { ids: [id], action: 'resolve', reason },
      });
      assert.equal(bulk.status, 400);
      assert.equal((bulk.body as { error: Json }).error.code, 'REASON_REQUIRED');
    }
    assert.equal(((await h.call('GET', `/v1/alerts/${id}`)).body as Json).status, 'open');
    assert.equal(
      (await h.call('POST', `/v1/alerts/${id}/resolve`, { body: { reason: 'benign' } })).status,
      200,
    );
    for (const assignee of ['alice', null]) {
      const res = await h.call('POST', `/v1/alerts/${id}/assign`, { body: { assignee } });
      assert.equal(res.status, 409);
      assert.equal((res.body as { error: Json }).error.code, 'ALERT_RESOLVED');
    }
    const bulk = await h.call('POST', '/v1/alerts/bulk', {
      body: { ids: [id], action: 'assign', assignee: 'bob' },
    });
    assert.deepEqual((bulk.body as { results: Json[] }).results, [{ id, ok: false, code: 'ALERT_RESOLVED' }]);
    assert.equal(((await h.call('GET', `/v1/alerts/${id}`)).body as Json).assignee, null);
    // A comment on a resolved alert stays allowed (notes after the fact).
    assert.equal(
      (await h.call('POST', `/v1/alerts/${id}/comments`, { body: { body: 'follow-up' } })).status,
      201,
    );
  });

  test('an empty cursor is an absent cursor on devices, as on alerts and audit', async () => {
    for (const path of ['/v1/devices?limit=5', '/v1/alerts?limit=5', '/v1/audit?limit=5']) {
      const plain = await h.call('GET', path);
      const empty = await h.call('GET', `${path}&cursor=`);
      assert.equal(empty.status, 200, `${path}: ${empty.text}`);
      assert.deepEqual(
        items(empty.body).map((x) => x.ip ?? x.id),
        items(plain.body).map((x) => x.ip ?? x.id),
        path,
      );
    }
    assert.equal((await h.call('GET', '/v1/devices?cursor=nope')).status, 400);
  });

  test('text search finds a device by its MAC however switches and asset lists write it', async () => {
    for (const q of [
      '00:1A:2B:3C:4D:5E',
      '00-1A-2B-3C-4D-5E',
      '001a.2b3c.4d5e',
      '001A2B3C4D5E',
      '00-1a-2b',
      '001a.2b3c',
      '001A2B',
      ' 00-1A-2B-3C-4D-5E ',
    ]) {
      const res = await h.call('GET', `/v1/devices?q=${encodeURIComponent(q)}`, { role: 'viewer' });
      assert.equal(res.status, 200, q);
      assert.deepEqual(
        items(res.body).map((d) => d.ip),
        ['10.20.1.6'],
        q,
      );
    }
    const csv = await h.call('GET', `/v1/devices.csv?q=${encodeURIComponent('001a.2b3c.4d5e')}`);
    assert.equal(csv.text.trim().split('\r\n').length, 2, 'the CSV export searches the same way');
    // Not a MAC: searched as text only.
    assert.equal(items((await h.call('GET', '/v1/devices?q=00-1A-2B-3C-4D-5E-6F')).body).length, 0);
  });
});

describe('rate limit per API key', () => {
  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness({ 'api.rateLimitPerMinute': 20 });
  });
  after(() => h?.close());

  test('a key over its budget gets 429 RATE_LIMITED while another key is unaffected', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++)
      statuses.push((await h.call('GET', '/v1/devices', { role: 'viewer' })).status);
    assert.equal(statuses.filter((s) => s === 200).length, 20);
    const limited = await h.call('GET', '/v1/devices', { role: 'viewer' });
    assert.equal(limited.status, 429);
    assert.equal((limited.body as { error: { code: string } }).error.code, 'RATE_LIMITED');
    assert.ok(limited.headers.get('retry-after'));
    assert.equal((await h.call('GET', '/v1/devices', { role: 'analyst' })).status, 200);
  });
});

describe('lockout after failed authentications', () => {
  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness({ 'api.rateLimitPerMinute': 100_000 });
  });
  after(() => h?.close());

  test('an address guessing keys is locked out, but a key that verified recently from it still works', async () => {
    assert.equal((await h.call('GET', '/v1/devices', { role: 'viewer' })).status, 200);
    const guess = (i: number) =>
      h.call('GET', '/v1/devices', {
        role: null,
        headers: { authorization: `Bearer guess-${i}-0123456789` },
      });
    for (let i = 0; i < 1000; i++) assert.equal((await guess(i)).status, 401);
    const locked = await guess(1000);
    assert.equal(locked.status, 429);
    assert.equal((locked.body as { error: { code: string } }).error.code, 'RATE_LIMITED');
    // The SOC client behind the same address, whose key verified minutes ago, is not locked out with it.
    assert.equal((await h.call('GET', '/v1/devices', { role: 'viewer' })).status, 200);
    // A key this address has not used successfully waits out the lockout like any guess.
    assert.equal((await h.call('GET', '/v1/devices', { role: 'analyst' })).status, 429);
  });
});

describe('alerts as CEF over syslog to real UDP and TCP receivers', () => {
  for (const protocol of ['udp', 'tcp'] as const) {
    test(`${protocol}: an opened and an updated alert arrive as RFC 5424 + CEF lines`, async () => {
      const received: string[] = [];
      let port: number;
      let close: () => Promise<void>;
      if (protocol === 'udp') {
        const sock = createSocket('udp4');
        sock.on('message', (m) => received.push(m.toString('utf8')));
        await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
        port = sock.address().port;
        close = () => new Promise((r) => sock.close(() => r()));
      } else {
        const server: Server = createServer((s) => {
          let buf = '';
          s.on('data', (d) => {
            buf += d.toString('utf8');
            let i = buf.indexOf('\n');
            while (i >= 0) {
              received.push(buf.slice(0, i));
              buf = buf.slice(i + 1);
              i = buf.indexOf('\n');
            }
          });
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        port = (server.address() as { port: number }).port;
        close = () => new Promise((r) => server.close(() => r()));
      }
      const h = await startPolicyHarness({
        'siem.host': '127.0.0.1',
        'siem.port': port,
        'siem.protocol': protocol,
        'siem.pollIntervalMs': 200,
      });
      try {
        await seedDevices(h.db, [{ ip: '10.50.0.1', class: 'infusion-pump' }]);
        const id = await seedAlert(h.db, {
          deviceIp: '10.50.0.1',
          kind: 'exfil|tration',
          severity: 'critical',
          title: 'Data = leaving\nnow',
        });
        await h.call('POST', `/v1/alerts/${id}/acknowledge`, { body: {} });
        await waitFor(async () => (received.length >= 2 ? true : undefined), {
          what: 'two CEF messages',
          timeoutMs: 20_000,
        });
        const [opened, updated] = received;
        assert.match(
          opened!,
          /^<162>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ wardwatch - ALERT - CEF:0\|Wardwatch\|Wardwatch\|/,
        );
        assert.ok(opened!.includes('|exfil\\|tration|Data = leaving now|10|'), opened);
        assert.ok(opened!.includes(`externalId=${id}`));
        assert.ok(opened!.includes('src=10.50.0.1'));
        assert.ok(opened!.includes('cat=alert.opened'));
        assert.ok(opened!.includes('msg=Data \\= leaving\\nnow'), opened);
        assert.ok(updated!.includes('cat=alert.updated') && updated!.includes('act=acknowledged'));
      } finally {
        await h.close();
        await close();
      }
    });
  }
});
