import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { classify, type DeviceFeatures, loadSignatures, SignatureError } from './signatures.ts';

const TCP = 6;
const UDP = 17;

function features(
  f: Partial<DeviceFeatures> & {
    serves?: Array<[number, number, number]>;
    uses?: Array<[number, number, number]>;
  },
): DeviceFeatures {
  const table = (rows: Array<[number, number, number]> = []) => {
    const t = new Map<number, Map<number, number>>();
    for (const [port, proto, peers] of rows) t.set(port, new Map([[proto, peers]]));
    return t;
  };
  return {
    served: f.served ?? table(f.serves),
    used: f.used ?? table(f.uses),
    fanIn: f.fanIn ?? (f.serves ?? []).reduce((n, r) => n + r[2], 0),
    fanOut: f.fanOut ?? (f.uses ?? []).reduce((n, r) => n + r[2], 0),
    external: f.external ?? false,
    periodic: f.periodic ?? false,
  };
}

describe('device-class signatures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-sigs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const sigs = loadSignatures();

  test('the built-in signatures flag infusion pumps and patient monitors life-critical, and only them', () => {
    assert.deepEqual(
      sigs.classes
        .filter((c) => c.lifeCritical)
        .map((c) => c.class)
        .sort(),
      ['infusion_pump', 'patient_monitor'],
    );
  });

  test('the built-in file validates and names every class of the issue', () => {
    const names = sigs.classes.map((c) => c.class).sort();
    for (const c of [
      'infusion_pump',
      'patient_monitor',
      'imaging_modality',
      'pacs',
      'hl7_engine',
      'lab_analyzer',
      'nurse_call',
      'rtls',
      'printer',
      'workstation',
      'server',
      'network_device',
    ]) {
      assert.ok(names.includes(c), c);
    }
    for (const p of [104, 11112, 2762, 2575, 2000, 7000, 6464, 4077, 5005, 5084])
      assert.ok(sigs.servicePorts.has(p), `port ${p}`);
  });

  test('flow features pick the class, with confidence and evidence', () => {
    const monitor = classify(
      sigs,
      features({
        uses: [
          [2000, UDP, 1],
          [7000, UDP, 1],
        ],
        periodic: true,
      }),
    );
    assert.equal(monitor.class, 'patient_monitor');
    assert.ok(monitor.confidence >= 0.8);
    assert.ok(monitor.evidence.length >= 2);
    assert.equal(classify(sigs, features({ serves: [[104, TCP, 3]] })).class, 'pacs');
    assert.equal(classify(sigs, features({ uses: [[104, TCP, 1]] })).class, 'imaging_modality');
    assert.equal(
      classify(sigs, features({ serves: [[2575, TCP, 4]], uses: [[2575, TCP, 1]] })).class,
      'hl7_engine',
    );
    assert.equal(classify(sigs, features({ uses: [[3613, TCP, 1]], periodic: true })).class, 'infusion_pump');
    assert.equal(classify(sigs, features({ serves: [[9100, TCP, 4]] })).class, 'printer');
    assert.equal(
      classify(
        sigs,
        features({
          uses: [
            [443, TCP, 6],
            [445, TCP, 1],
            [53, UDP, 1],
          ],
          external: true,
        }),
      ).class,
      'workstation',
    );
  });

  test('weak evidence stays unknown', () => {
    const c = classify(sigs, features({ uses: [[12345, TCP, 1]] }));
    assert.equal(c.class, 'unknown');
    assert.equal(c.confidence, 0);
  });

  test('a user file adds classes and ports and replaces classes of the same name', () => {
    const file = join(dir, 'site.yaml');
    writeFileSync(
      file,
      `services: [{ port: 9999, name: acme-telemetry }]
classes:
  - class: acme_ventilator
    title: ACME ventilator
    internalOnly: true
    heartbeat: true
    rules: [{ uses: { ports: [9999], protocol: tcp }, weight: 0.9 }]
  - class: printer
    title: Printer (site)
    rules: [{ serves: { ports: [9100] }, weight: 0.2 }]
`,
    );
    const site = loadSignatures(file);
    assert.ok(site.servicePorts.has(9999));
    assert.equal(classify(site, features({ uses: [[9999, TCP, 1]] })).class, 'acme_ventilator');
    assert.equal(site.byClass.get('printer')?.title, 'Printer (site)');
    assert.equal(site.classes.length, sigs.classes.length + 1);
  });

  test('an invalid user file is refused with every problem named', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'classes:\n  - class: Bad-Name\n    rules: [{ weight: 3 }]\n');
    assert.throws(
      () => loadSignatures(file),
      (err: unknown) => {
        assert.ok(err instanceof SignatureError);
        assert.match(err.message, /class/);
        assert.match(err.message, /weight/);
        return true;
      },
    );
    assert.throws(() => loadSignatures(join(dir, 'missing.yaml')), SignatureError);
  });
});
