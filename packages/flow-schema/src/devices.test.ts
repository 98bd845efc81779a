import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCidr } from './cidr.ts';
import { createDeviceMatcher } from './devices.ts';

test('private ranges match, public addresses and malformed text do not', () => {
  const m = createDeviceMatcher(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);
  for (const a of ['10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.254', '192.168.1.1', 'fd00::1']) {
    assert.equal(m.isDevice(a), true, a);
  }
  for (const a of [
    '11.0.0.1',
    '172.32.0.1',
    '8.8.8.8',
    '2001:db8::1',
    '',
    'not-an-ip',
    '10.0.0',
    '10.0.0.256',
  ]) {
    assert.equal(m.isDevice(a), false, a);
  }
});

test('a CIDR whose address has host bits set still covers its whole network', () => {
  const m = createDeviceMatcher(['10.20.30.40/16']);
  assert.equal(m.isDevice('10.20.0.1'), true);
  assert.equal(m.isDevice('10.21.0.1'), false);
});

test('IPv4-mapped IPv6 addresses are judged by their IPv4 address', () => {
  const m = createDeviceMatcher(['192.168.0.0/16']);
  assert.equal(m.isDevice('::ffff:192.168.4.5'), true);
});

test('an IPv4-mapped IPv6 CIDR covers its IPv4 addresses in both notations', () => {
  // How a dual-stack (udp6) socket names IPv4 peers: an operator may write the allowlist that way.
  const m = createDeviceMatcher(['::ffff:192.0.2.0/120']);
  assert.equal(m.isDevice('192.0.2.7'), true);
  assert.equal(m.isDevice('::ffff:192.0.2.7'), true);
  assert.equal(m.isDevice('::ffff:c000:207'), true);
  assert.equal(m.isDevice('192.0.3.7'), false);
  assert.equal(m.isDevice('2001:db8::1'), false);
});

test('the matcher refuses what parseCidr refuses, instead of reading it some other way', () => {
  assert.throws(() => createDeviceMatcher(['010.0.0.0/8']), /not a CIDR: "010.0.0.0\/8"/);
  assert.throws(() => createDeviceMatcher(['fe80::1%eth0/64']), /not a CIDR/);
  assert.equal(parseCidr('010.0.0.0/8'), undefined);
  assert.deepEqual(parseCidr('10.20.0.0/16'), { address: '10.20.0.0', bits: 16, family: 4 });
  assert.deepEqual(parseCidr('fd00::/8'), { address: 'fd00::', bits: 8, family: 6 });
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
});
