import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createThreatIntel, parseThreatIntel } from './threat-intel.ts';

describe('threat-intelligence list', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-ti-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('parses hosts and networks, ignores comments, reports bad lines', () => {
    const { cidrs, invalid } = parseThreatIntel(
      '# feed\n203.0.113.66\n198.51.100.0/24 # c2 range\n2001:db8::1, score=90\nnot-an-address\n10.0.0.0/33\n\n',
    );
    assert.deepEqual(cidrs, ['203.0.113.66/32', '198.51.100.0/24', '2001:db8::1/128']);
    assert.deepEqual(invalid, ['not-an-address', '10.0.0.0/33']);
  });

  test('matches, and re-reads the file when it changes; a failed read keeps the list', () => {
    const file = join(dir, 'ti.txt');
    writeFileSync(file, '203.0.113.66\n198.51.100.0/24\n');
    const ti = createThreatIntel(file);
    assert.equal(ti.reload().status, 'loaded');
    assert.ok(ti.matches('203.0.113.66'));
    assert.ok(ti.matches('198.51.100.200'));
    assert.ok(!ti.matches('203.0.113.67'));
    assert.equal(ti.reload().status, 'unchanged');

    writeFileSync(file, '192.0.2.7\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const r = ti.reload();
    assert.equal(r.status, 'loaded');
    assert.ok(ti.matches('192.0.2.7'));
    assert.ok(!ti.matches('203.0.113.66'));

    rmSync(file);
    assert.equal(ti.reload().status, 'failed');
    assert.ok(ti.matches('192.0.2.7'), 'the previous list stays in force');
  });

  test('IPv6 entries match however the feed writes them', () => {
    const file = join(dir, 'ti6.txt');
    // Feeds write IPv6 in capitals or uncompressed; records carry RFC 5952 text.
    writeFileSync(file, '2001:DB8::66\n2001:db8:0:0:0:0:0:77\n2001:0db8::0088 # c2\nfe80::1%eth0\n');
    const ti = createThreatIntel(file);
    const load = ti.reload();
    assert.deepEqual(load.status === 'loaded' && load.invalid, ['fe80::1%eth0']);
    assert.ok(ti.matches('2001:db8::66'));
    assert.ok(ti.matches('2001:db8::77'));
    assert.ok(ti.matches('2001:db8::88'));
    assert.ok(!ti.matches('2001:db8::99'));
  });

  test('no file configured: an empty list', () => {
    const ti = createThreatIntel(undefined);
    assert.equal(ti.reload().status, 'unchanged');
    assert.ok(!ti.matches('203.0.113.66'));
  });
});
