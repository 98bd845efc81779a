// Console sessions against real PostgreSQL: the cookie's flags (Secure only under TLS), the session acting
// as its key (a revoked key or an expired session ends it), CSRF on writes, and sign-out server-side.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSessionStore } from '@wardwatch/policy';
import { type PolicyHarness, seedDevices, startPolicyHarness } from './policy-support.ts';

describe('console sessions', () => {
  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness();
    await seedDevices(h.db, [{ ip: '10.9.0.1', class: 'infusion-pump' }]);
  });
  after(() => h?.close());

  async function signIn(key: string): Promise<{ cookie: string; setCookie: string; csrf: string }> {
    const res = await fetch(`${h.url}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: key }),
    });
    assert.equal(res.status, 201);
    const setCookie = res.headers.get('set-cookie') ?? '';
    const body = (await res.json()) as { csrfToken: string };
    return { cookie: setCookie.split(';')[0]!, setCookie, csrf: body.csrfToken };
  }
  const get = (path: string, cookie: string) => fetch(`${h.url}${path}`, { headers: { cookie } });

  test('the cookie is HttpOnly, SameSite=Strict, with an expiry; Secure only over TLS', async () => {
    const { setCookie } = await signIn(h.keys.analyst);
    assert.match(
      setCookie,
      /^ww_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    // Under TLS (what fastify reports as the request's protocol) the same store adds Secure.
    const store = createSessionStore(h.db.pool);
    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT id FROM api_keys WHERE name = 'test-viewer'",
    );
    const headers: Record<string, string> = {};
    type Open = Parameters<typeof store.open>;
    const reply = { header: (k: string, v: string) => (headers[k] = v) } as unknown as Open[1];
    const req = { protocol: 'https', ip: '127.0.0.1', headers: {} } as unknown as Open[0];
    await store.open(req, reply, { keyId: rows[0]!.id, name: 'test-viewer', role: 'viewer' });
    assert.match(headers['set-cookie']!, /; Secure$/);
  });

  test('a bad key gets 401 and no cookie', async () => {
    const res = await fetch(`${h.url}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: 'ww_not-a-key' }),
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('set-cookie'), null);
  });

  test('the session reads with its role, writes only with the CSRF token, and ends at sign-out', async () => {
    const { cookie, csrf } = await signIn(h.keys.analyst);
    assert.equal((await get('/v1/devices/10.9.0.1', cookie)).status, 200);
    const patch = (headers: Record<string, string>) =>
      fetch(`${h.url}/v1/devices/10.9.0.1`, {
        method: 'PATCH',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ label: 'bed 4' }),
      });
    const forged = await patch({});
    assert.equal(forged.status, 403);
    assert.equal(((await forged.json()) as { error: { code: string } }).error.code, 'CSRF_FAILED');
    assert.equal((await patch({ 'x-csrf-token': `${csrf}x` })).status, 403);
    assert.equal((await patch({ 'x-csrf-token': csrf })).status, 200);
    // The audit names the key the session acts as.
    const { rows } = await h.db.pool.query<{ actor_name: string }>(
      "SELECT actor_name FROM audit_log WHERE action = 'device.update' ORDER BY id DESC LIMIT 1",
    );
    assert.equal(rows[0]?.actor_name, 'test-analyst');
    const out = await fetch(`${h.url}/v1/session`, {
      method: 'DELETE',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await get('/v1/devices', cookie)).status, 401);
    assert.equal((await get('/v1/session', cookie)).status, 204);
  });

  test('revoking the key or expiring the session ends it', async () => {
    const created = await h.call('POST', '/v1/apikeys', { body: { name: 'temp-console', role: 'viewer' } });
    const { key, apiKey } = created.body as { key: string; apiKey: { id: string } };
    const a = await signIn(key);
    assert.equal((await get('/v1/devices', a.cookie)).status, 200);
    assert.equal((await h.call('DELETE', `/v1/apikeys/${apiKey.id}`)).status, 200);
    assert.equal((await get('/v1/devices', a.cookie)).status, 401);

    const b = await signIn(h.keys.viewer);
    assert.equal((await get('/v1/devices', b.cookie)).status, 200);
    await h.db.pool.query("UPDATE console_sessions SET expires_at = now() - interval '1 second'");
    assert.equal((await get('/v1/devices', b.cookie)).status, 401);
  });
});
