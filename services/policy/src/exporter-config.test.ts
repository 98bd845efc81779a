import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCollector, renderExporterConfig, SUPPORTED, VENDORS } from './exporter-config.ts';

test('collector addresses: host:port, [v6]:port, DNS names; nothing a router CLI could misread', () => {
  assert.deepEqual(parseCollector('10.0.0.1:2055'), { host: '10.0.0.1', port: 2055 });
  assert.deepEqual(parseCollector('[2001:db8::1]:4739'), { host: '2001:db8::1', port: 4739 });
  assert.deepEqual(parseCollector('collector.hospital.lan:4739'), {
    host: 'collector.hospital.lan',
    port: 4739,
  });
  for (const bad of [
    '10.0.0.1',
    '10.0.0.1:0',
    '10.0.0.1:70000',
    'a b:1',
    'x;reload:1',
    '[10.0.0.1]:1',
    'host:1\nreload',
    '-bad-:1',
  ])
    assert.equal(typeof parseCollector(bad), 'string', bad);
});

test('every vendor renders, with the collector, port and protocol it supports', () => {
  for (const vendor of VENDORS) {
    for (const protocol of SUPPORTED[vendor]) {
      const text = renderExporterConfig({
        vendor,
        host: '192.0.2.10',
        port: 9995,
        protocol,
        samplingRate: 100,
      });
      assert.ok(text.includes('192.0.2.10'), `${vendor} host`);
      assert.ok(text.includes('9995'), `${vendor} port`);
      assert.ok(text.endsWith('\n'));
    }
  }
  assert.match(
    renderExporterConfig({ vendor: 'cisco-iosxe', host: 'h', port: 1, protocol: 'netflow-v9' }),
    /export-protocol netflow-v9/,
  );
  assert.match(
    renderExporterConfig({ vendor: 'junos', host: 'h', port: 1, protocol: 'netflow-v9' }),
    /version9 template/,
  );
  assert.match(
    renderExporterConfig({
      vendor: 'mikrotik',
      host: 'h',
      port: 1,
      protocol: 'netflow-v9',
      samplingRate: 10,
    }),
    /version=9[\s\S]*|sampling-interval=10/,
  );
  assert.match(
    renderExporterConfig({ vendor: 'softflowd', host: 'h', port: 1, protocol: 'ipfix' }),
    /-v 10 .*-b/,
  );
});

test('rendered snippets agree with docs/router-setup.md: timeouts, MACs, sampler and options templates', () => {
  const render = (vendor: (typeof VENDORS)[number], samplingRate?: number) =>
    renderExporterConfig({
      vendor,
      host: '10.0.0.50',
      port: 4739,
      protocol: SUPPORTED[vendor][0]!,
      samplingRate,
    });
  // FortiOS 7.x takes the active timeout in seconds (60-3600); 1 is rejected.
  assert.match(render('fortigate'), /^ {4}set active-flow-timeout 60$/m);
  // softflowd's default tracking (`-T full`) exports no MACs or VLANs; `ether` does.
  assert.match(render('softflowd'), / -T ether /);
  // A sampled exporter must send the sampler options template, or the rate is unknown.
  assert.match(render('cisco-iosxe', 100), /^ option sampler-table$/m);
  assert.match(render('junos', 100), /option-refresh-rate seconds 60$/m);
});
