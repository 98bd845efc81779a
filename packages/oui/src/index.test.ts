import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createOuiRegistry, OuiFileError, parseIeeeCsv } from './index.ts';

describe('oui registry', () => {
  const builtIn = createOuiRegistry();

  test('the built-in registry (oui-data) names medical manufacturers and holds the whole MA-L list', () => {
    assert.ok(builtIn.size > 30_000, `size ${builtIn.size}`);
    assert.match(builtIn.sources[0]!, /^oui-data 2\.1\.9$/);
    // ICU Medical (infusion pumps) and Philips Medical Systems, in three spellings.
    assert.deepEqual(builtIn.lookup('00:1A:01:12:34:56'), {
      mac: '00:1a:01:12:34:56',
      kind: 'global',
      prefix: '001A01',
      manufacturer: 'ICU Medical, Inc.',
    });
    assert.equal(builtIn.lookup('00-09-FB-00-00-01')?.manufacturer, 'Philips Patient Monitoring');
    assert.equal(builtIn.lookup('0009.fb00.0001')?.prefix, '0009FB');
  });

  test('locally administered (randomised) and multicast MACs are marked, not looked up; junk is refused', () => {
    // 0x02 bit set in the first octet: a phone's private address, or one set by hand.
    assert.deepEqual(builtIn.lookup('da:a1:19:00:11:22'), {
      mac: 'da:a1:19:00:11:22',
      kind: 'local',
      prefix: undefined,
      manufacturer: undefined,
    });
    assert.equal(builtIn.lookup('01:00:5e:00:00:fb')?.kind, 'multicast');
    assert.equal(builtIn.lookup('00:1a:01'), undefined);
    assert.equal(builtIn.lookup('zz:zz:zz:zz:zz:zz'), undefined);
  });

  test('the built-in list holds MA-M / MA-S blocks too, and the longest assignment wins', () => {
    assert.equal(builtIn.lookup('70:b3:d5:1f:f0:00')?.prefix, '70B3D51FF');
    assert.equal(builtIn.lookup('70:b3:d5:1f:f0:00')?.manufacturer, 'Audiodo AB');
  });

  test('IEEE CSV files (as the IEEE publishes them and Debian ieee-data installs them) win over the built-in list', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oui-'));
    const oui = join(dir, 'oui.csv');
    writeFileSync(
      oui,
      'Registry,Assignment,Organization Name,Organization Address\r\n' +
        'MA-L,001A01,"ICU Medical, Inc. (renamed)","951 Calle Amanecer San Clemente CA US 92673"\r\n',
    );
    const oui36 = join(dir, 'oui36.csv');
    writeFileSync(
      oui36,
      'Registry,Assignment,Organization Name,Organization Address\nMA-S,001A01ABC,Tiny Sensor Co,Somewhere\n',
    );
    const r = createOuiRegistry({ files: [oui, oui36] });
    assert.equal(r.lookup('00:1a:01:12:34:56')?.manufacturer, 'ICU Medical, Inc. (renamed)');
    assert.equal(r.lookup('00:1a:01:ab:c4:56')?.manufacturer, 'Tiny Sensor Co');
    assert.equal(r.lookup('00:1a:01:ab:c4:56')?.prefix, '001A01ABC');
    assert.deepEqual(r.sources.slice(1), [`${oui} (1)`, `${oui36} (1)`]);
    // Only the files: an operator's own copy of the registry, nothing built in.
    const only = createOuiRegistry({ files: [oui], builtIn: false });
    assert.equal(only.size, 1);
    assert.equal(only.lookup('00:09:fb:00:00:01')?.manufacturer, undefined);
  });

  test('a file that is not an IEEE registry CSV is a clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oui-'));
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'mac,vendor\n001a01,ICU\n');
    assert.throws(
      () => createOuiRegistry({ files: [bad] }),
      (e: unknown) => e instanceof OuiFileError && /not an IEEE registry CSV/.test(e.message),
    );
    assert.throws(() => createOuiRegistry({ files: [join(dir, 'missing.csv')] }), /cannot read/);
    assert.deepEqual(
      parseIeeeCsv('Registry,Assignment,Organization Name\nMA-L,00000C,Cisco Systems, Inc\n'),
      [['00000C', 'Cisco Systems']],
    );
  });
});
