// API key lifecycle against the real service and PostgreSQL: the bootstrap key when its value changes or
// after a revocation, and keys whose expiry passes while they sit in the verification cache.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '@wardwatch/policy';
import { type PolicyHarness, startPolicyHarness } from './policy-support.ts';

const BOOT_A = 'bootstrap-value-A-0123456789abcdef';
const BOOT_B = 'bootstrap-value-B-0123456789abcdef';

describe('API key lifecycle', () => {
  let h: PolicyHarness;
  before(async () => {
    // A long cache lifetime, so that anything the cache keeps alive shows.
    h = await startPolicyHarness({ 'api.bootstrapApiKey': BOOT_A, 'api.keyCacheMs': 60_000 });
  });
  after(() => h?.close());

  const as = (key: string) =>
    h.call('GET', '/v1/devices', { role: null, headers: { authorization: `Bearer ${key}` } });

  test('changing WARDWATCH_BOOTSTRAP_API_KEY retires the old value; a revoked bootstrap key stays revoked', async () => {
    assert.equal((await as(BOOT_A)).status, 200);
    await h.restart({ 'api.bootstrapApiKey': BOOT_B });
    assert.equal((await as(BOOT_B)).status, 200, 'the new value is an admin key');
    assert.equal((await as(BOOT_A)).status, 401, 'the replaced value no longer works');

    // The SOC revokes the (leaked) bootstrap key; a restart with the same setting must not revive it.
    const keys = (await h.call('GET', '/v1/apikeys')).body as {
      items: Array<{ id: string; name: string; revokedAt: string | null }>;
    };
    const live = keys.items.filter((k) => k.name === 'bootstrap' && !k.revokedAt);
    assert.equal(live.length, 1, 'one live bootstrap key');
    assert.equal((await h.call('DELETE', `/v1/apikeys/${live[0]!.id}`)).status, 200);
    assert.equal((await as(BOOT_B)).status, 401);
    await h.restart({ 'api.bootstrapApiKey': BOOT_B });
    assert.equal((await as(BOOT_B)).status, 401, 'a restart does not undo a revocation');

    // Each of these changes is in the audit log, by the service itself.
    const { rows } = await h.db.pool.query<{ action: string; actor_name: string }>(
      "SELECT action, actor_name FROM audit_log WHERE target_type = 'apikey' ORDER BY id",
    );
    assert.deepEqual(
      rows.map((r) => `${r.action} ${r.actor_name}`),
      [
        'apikey.create system:bootstrap',
        'apikey.revoke system:bootstrap',
        'apikey.create system:bootstrap',
        'apikey.revoke test-admin',
      ],
    );
  });

  test('a cached key stops working the moment it expires, not a cache lifetime later', async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const { key } = await createApiKey(h.db.pool, { name: 'short-lived', role: 'viewer', expiresAt });
    assert.equal((await as(key)).status, 200);
    await new Promise((r) => setTimeout(r, expiresAt.getTime() - Date.now() + 100));
    assert.equal((await as(key)).status, 401);
  });
});
