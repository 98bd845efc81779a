// The authorisation matrix and hostile input, generated from the API's own route table: every route x
// (no key, feeds, viewer, analyst, admin), then wrong types, injection strings, unicode and huge bodies on every
// route. A route added later is covered without touching this file.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp, ROLES, type Role, type RouteEntry } from '@wardwatch/policy';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';
import { type PolicyHarness, seedAlert, seedDevices, startPolicyHarness } from './policy-support.ts';

const UUID = '00000000-0000-4000-8000-000000000000';

/** A concrete path for a route pattern: plausible values for each parameter. */
function fill(url: string): string {
  return url
    .replace(':ip', '10.9.0.1')
    .replace(':assignmentId', '1')
    .replace(':deliveryId', '1')
    .replace(':name', 'grp')
    .replace(':id', /\/(webhooks|apikeys)\//.test(url) ? UUID : '1')
    .replace('*', 'swagger-ui.css');
}

const rank = (r: Role) => ROLES.indexOf(r);

describe('policy API authorisation matrix (generated from the route table)', () => {
  let h: PolicyHarness;
  let routes: RouteEntry[];
  before(async () => {
    h = await startPolicyHarness();
    await seedDevices(h.db, [{ ip: '10.9.0.1', class: 'infusion-pump' }]);
    routes = h.service.app().routeTable;
  });
  after(() => h?.close());

  test('the table lists every API route, and only health probes, the console and sign-in are public', () => {
    assert.ok(routes.length >= 50, `expected the full API, got ${routes.length} routes`);
    const publicRoutes = routes
      .filter((r) => r.auth === 'public')
      .map((r) => r.url)
      .sort();
    // The console's files carry no data; sign-in authenticates the key it is given; GET /v1/session
    // answers only for the cookie's own session (204 without one).
    assert.deepEqual(publicRoutes, [
      '/',
      '/assets/:file',
      '/healthz',
      '/readyz',
      '/v1/session',
      '/v1/session',
    ]);
  });

  test('every route x no key / feeds / viewer / analyst / admin answers 401 / 403 / allowed as its rule says', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const r of routes) {
      const path = fill(r.url);
      const body = ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined;
      const none = await h.call(r.method, path, { role: null, body });
      checked++;
      if (r.auth === 'public') {
        if (none.status === 401 || none.status === 403)
          failures.push(`${r.method} ${r.url} public but ${none.status}`);
        continue;
      }
      if (none.status !== 401) failures.push(`${r.method} ${r.url} without key: ${none.status}`);
      else if ((none.body as { error?: { code?: string } })?.error?.code !== 'UNAUTHENTICATED')
        failures.push(`${r.method} ${r.url} 401 without UNAUTHENTICATED code`);
      const wrong = await h.call(r.method, path, {
        role: null,
        body,
        headers: { authorization: 'Bearer ww_not-a-real-key' },
      });
      if (wrong.status !== 401) failures.push(`${r.method} ${r.url} with a wrong key: ${wrong.status}`);
      for (const role of ROLES) {
        const res = await h.call(r.method, path, { role, body });
        checked++;
        const allowed = rank(role) >= rank(r.auth);
        if (allowed && (res.status === 401 || res.status === 403))
          failures.push(`${r.method} ${r.url} as ${role}: ${res.status}, expected allowed`);
        if (!allowed && res.status !== 403)
          failures.push(`${r.method} ${r.url} as ${role}: ${res.status}, expected 403`);
        if (res.status >= 500) failures.push(`${r.method} ${r.url} as ${role}: ${res.status}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(checked > 200);
  });

  test('a feeds key reads the three EDL feeds and nothing else; every other role reads them too', () => {
    // The routes a firewall's key may call are exactly the feeds: the matrix above then proves a feeds
    // key gets 403 everywhere else and that viewer, analyst and admin keep reading the feeds.
    const feedRoutes = routes
      .filter((r) => r.auth === 'feeds')
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    assert.deepEqual(feedRoutes, [
      'GET /v1/feeds/policies/:id/allowed.txt',
      'GET /v1/feeds/policies/:id/devices.txt',
      'GET /v1/feeds/quarantined.txt',
    ]);
    assert.ok(routes.filter((r) => r.url.startsWith('/v1/feeds/')).every((r) => r.auth === 'feeds'));
  });

  test('a feeds key gets the EDL (Bearer and Basic) and is refused on /v1/devices, the docs and the console', async () => {
    await h.db.pool.query("UPDATE devices SET quarantined = true WHERE ip = '10.9.0.1'");
    try {
      const bearer = { authorization: `Bearer ${h.keys.feeds}` };
      const basic = { authorization: `Basic ${Buffer.from(`fortigate:${h.keys.feeds}`).toString('base64')}` };
      for (const headers of [bearer, basic]) {
        const feed = await h.call('GET', '/v1/feeds/quarantined.txt', { role: null, headers });
        assert.equal(feed.status, 200);
        assert.equal(feed.text, '10.9.0.1\n');
      }
      const devices = await h.call('GET', '/v1/devices', { role: null, headers: bearer });
      assert.equal(devices.status, 403);
      assert.equal((devices.body as { error: { code: string } }).error.code, 'FORBIDDEN');
      assert.ok(!devices.text.includes('10.9.0.1'));
      assert.equal(
        (await h.call('GET', '/v1/devices/10.9.0.1', { role: null, headers: bearer })).status,
        403,
      );
      assert.equal((await h.call('GET', '/openapi.json', { role: null, headers: bearer })).status, 403);
      assert.equal((await h.call('GET', '/metrics', { role: null, headers: bearer })).status, 403);
      // No console session from a feeds key: it could show nothing, and a cookie is one more secret to steal.
      const signIn = await h.call('POST', '/v1/session', { role: null, body: { apiKey: h.keys.feeds } });
      assert.equal(signIn.status, 403);
      assert.equal(signIn.headers.get('set-cookie'), null);
    } finally {
      await h.db.pool.query("UPDATE devices SET quarantined = false WHERE ip = '10.9.0.1'");
    }
  });

  test('a route registered without an auth rule is refused at registration', async () => {
    const app = await buildApp({
      db: h.db,
      logger: createLogger({ level: 'silent' }),
      registry: createMetricsRegistry({ defaultMetrics: false }),
    });
    try {
      assert.throws(() => app.get('/v1/sneaky', async () => 'open'), /declares no auth/);
      app.get('/v1/declared', { config: { auth: 'admin' } }, async () => 'closed');
      assert.equal(app.routeTable.at(-1)!.url, '/v1/declared');
    } finally {
      await app.close();
    }
  });

  test('a revoked key stops working at once; an expired key never works', async () => {
    const created = await h.call('POST', '/v1/apikeys', { body: { name: 'temp', role: 'viewer' } });
    assert.equal(created.status, 201);
    const { key, apiKey } = created.body as { key: string; apiKey: { id: string } };
    const asTemp = () =>
      h.call('GET', '/v1/devices', { role: null, headers: { authorization: `Bearer ${key}` } });
    assert.equal((await asTemp()).status, 200);
    assert.equal((await h.call('DELETE', `/v1/apikeys/${apiKey.id}`)).status, 200);
    assert.equal((await asTemp()).status, 401);
    await h.db.pool.query(
      "UPDATE api_keys SET expires_at = now() - interval '1 second', revoked_at = NULL WHERE id = $1",
      [apiKey.id],
    );
    await new Promise((r) => setTimeout(r, h.config.api.keyCacheMs + 50));
    assert.equal((await asTemp()).status, 401);
    // Stored hashed: the key itself appears nowhere in the table.
    const { rows } = await h.db.pool.query('SELECT * FROM api_keys');
    assert.ok(!JSON.stringify(rows).includes(key));
  });

  test('HTTP Basic with the key as password works (firewalls fetching EDLs)', async () => {
    const basic = Buffer.from(`paloalto:${h.keys.viewer}`).toString('base64');
    const res = await h.call('GET', '/v1/feeds/quarantined.txt', {
      role: null,
      headers: { authorization: `Basic ${basic}` },
    });
    assert.equal(res.status, 200);
  });
});

const INJECTIONS = [
  "' OR '1'='1",
  "10.0.0.1'; DROP TABLE devices; --",
  '"; DELETE FROM alerts; --',
  '{"$gt": ""}',
  '../../../../etc/passwd',
  '%00%27',
  '\u0000nul',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ Ünïcødé 设备 🚑',
  '\u202Eevil\u202C',
  '<script>alert(1)</script>',
  'x'.repeat(3000),
  '-1',
  '1e309',
  'NaN',
];

const WRONG_TYPES: unknown[] = [[], 'string', 42, true, null, { nested: { deeper: [1, 2, { x: 'y' }] } }];

type JsonSchema = { properties?: Record<string, { type?: string }>; anyOf?: JsonSchema[] };

function propertyNames(schema: unknown): string[] {
  const s = schema as JsonSchema | undefined;
  if (!s) return [];
  const names = new Set(Object.keys(s.properties ?? {}));
  for (const alt of s.anyOf ?? []) for (const n of Object.keys(alt.properties ?? {})) names.add(n);
  return [...names];
}

describe('policy API under hostile input (every route)', () => {
  let h: PolicyHarness;
  let routes: RouteEntry[];
  before(async () => {
    h = await startPolicyHarness({ 'api.bodyLimitBytes': 65536 });
    await seedDevices(h.db, [
      { ip: '10.9.0.1', class: 'infusion-pump' },
      { ip: '10.9.0.2', class: 'workstation' },
    ]);
    await seedAlert(h.db, { deviceIp: '10.9.0.1', kind: 'port-scan' });
    routes = h.service.app().routeTable.filter((r) => r.url.startsWith('/v1/'));
  });
  after(() => h?.close());

  const problems: string[] = [];
  const check = (what: string, res: { status: number; body: unknown; text: string }) => {
    if (res.status >= 500) problems.push(`${what}: ${res.status} ${res.text.slice(0, 200)}`);
    if (/\bat .+\.(ts|js):\d+/.test(res.text) || res.text.includes('"stack"'))
      problems.push(`${what}: response leaks a stack trace`);
    if (res.status >= 400 && typeof (res.body as { error?: { code?: unknown } })?.error?.code !== 'string')
      problems.push(`${what}: ${res.status} without an error code`);
  };

  test('injection strings and unicode in every path parameter and query parameter', async () => {
    for (const r of routes) {
      const params = r.url.match(/:[A-Za-z]+/g) ?? [];
      const method = r.method;
      const body = ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined;
      for (const p of params) {
        for (const bad of INJECTIONS) {
          const path = fill(r.url.replace(p, encodeURIComponent(bad)));
          check(`${method} ${path.slice(0, 80)}`, await h.call(method, path, { body }));
        }
      }
      for (const q of propertyNames(r.querystring)) {
        for (const bad of INJECTIONS) {
          const path = `${fill(r.url)}?${new URLSearchParams({ [q]: bad })}`;
          check(`${method} ${r.url} ?${q}=${bad.slice(0, 20)}`, await h.call(method, path, { body }));
        }
      }
    }
    assert.deepEqual(problems.splice(0), []);
  });

  test('wrong types, injection strings, malformed JSON, prototype pollution and huge bodies on every body route', async () => {
    const bodyRoutes = routes.filter((r) => r.body);
    assert.ok(bodyRoutes.length >= 15);
    for (const r of bodyRoutes) {
      const path = fill(r.url);
      const what = `${r.method} ${r.url}`;
      for (const wrong of WRONG_TYPES)
        check(`${what} body ${JSON.stringify(wrong)}`, await h.call(r.method, path, { body: wrong }));
      for (const prop of propertyNames(r.body)) {
        for (const bad of [...INJECTIONS, ...WRONG_TYPES]) {
          check(
            `${what} .${prop}=${String(bad).slice(0, 20)}`,
            await h.call(r.method, path, { body: { [prop]: bad } }),
          );
        }
      }
      const malformed = await h.call(r.method, path, { raw: '{"name": "x", ' });
      check(`${what} malformed`, malformed);
      assert.equal(malformed.status, 400, `${what} malformed JSON`);
      const proto = await h.call(r.method, path, { raw: '{"__proto__": {"role": "admin"}, "name": "p"}' });
      check(`${what} __proto__`, proto);
      assert.ok(proto.status >= 400 && proto.status < 500, `${what} prototype pollution: ${proto.status}`);
      const huge = await h.call(r.method, path, { body: { name: 'x'.repeat(70_000) } });
      assert.equal(huge.status, 413, `${what} huge body`);
      assert.equal((huge.body as { error: { code: string } }).error.code, 'BODY_TOO_LARGE');
      const wrongType = await h.call(r.method, path, {
        raw: 'name=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      check(`${what} form body`, wrongType);
      assert.equal(wrongType.status, 415, `${what} unsupported media type`);
    }
    assert.deepEqual(problems.splice(0), []);
  });

  test('the database is intact afterwards and no hostile value was stored through a failed check', async () => {
    const { rows } = await h.db.pool.query('SELECT count(*)::int AS n FROM devices');
    assert.equal(rows[0].n, 2);
    const alerts = await h.db.pool.query('SELECT count(*)::int AS n FROM alerts');
    assert.equal(alerts.rows[0].n, 1);
  });
});
