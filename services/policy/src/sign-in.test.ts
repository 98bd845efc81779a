import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey, createSignInGuard } from './sign-in.ts';

test('a flood of fresh addresses does not lift a lockout (it used to clear the whole table)', () => {
  const g = createSignInGuard({ threshold: 5, windowMs: 60_000, maxTracked: 100 });
  const now = 1_000_000;
  for (let i = 0; i < 5; i++) g.fail('198.51.100.7', now);
  assert.equal(g.lockedOut('198.51.100.7', now), true);
  for (let i = 0; i < 100_000; i++) g.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, now + 1);
  assert.equal(g.lockedOut('198.51.100.7', now + 2), true);
  assert.ok(g.size() <= 100);
  // The window ends: the address may try again.
  assert.equal(g.lockedOut('198.51.100.7', now + 60_001), false);
});

test('IPv6 addresses are counted per /64', () => {
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  const g = createSignInGuard({ threshold: 3, windowMs: 60_000, maxTracked: 10 });
  for (let i = 1; i <= 3; i++) g.fail(`2001:db8:1:2::${i}`, 0);
  assert.equal(g.lockedOut('2001:db8:1:2:dead:beef::9', 1), true);
  assert.equal(g.lockedOut('2001:db8:1:3::1', 1), false);
});
