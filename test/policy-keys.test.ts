// API key lifecycle against the real service and PostgreSQL: keys whose expiry passes while they sit in
// the verification cache.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '@wardwatch/policy';
import { type PolicyHarness, startPolicyHarness } from './policy-support.ts';

describe('API key lifecycle', () => {
  let h: PolicyHarness;
  before(async () => {
    // A long cache lifetime, so that anything the cache keeps alive shows.
    h = await startPolicyHarness({ 'api.keyCacheMs': 60_000 });
  });
  after(() => h?.close());

  const as = (key: string) =>
    h.call('GET', '/v1/devices', { role: null, headers: { authorization: `Bearer ${key}` } });

  test('a cached key stops working the moment it expires, not a cache lifetime later', async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const { key } = await createApiKey(h.db.pool, { name: 'short-lived', role: 'viewer', expiresAt });
    assert.equal((await as(key)).status, 200);
    await new Promise((r) => setTimeout(r, expiresAt.getTime() - Date.now() + 100));
    assert.equal((await as(key)).status, 401);
  });
});
