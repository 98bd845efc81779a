import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeExporterStatus, decodeFlowBatch, partitionFor } from '@wardwatch/flow-schema';
import { DecodeShard, type ShardSettings, VIA_UDP } from './shard.ts';

const settings: ShardSettings = {
  monitoredNetworks: ['10.0.0.0/8'],
  partitions: 4,
  batchRecords: 3,
  lingerMs: 50,
  exporterReportMs: 1000,
  collectorId: 'test/1',
};

/** A NetFlow v9 packet: optionally template 256 (src, dst, bytes, pkts, proto), then data records. */
function v9(seq: number, flows: [string, string][], withTemplate: boolean): Uint8Array {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(20);
  h.writeUInt16BE(9, 0);
  h.writeUInt16BE((withTemplate ? 1 : 0) + flows.length, 2);
  h.writeUInt32BE(1000, 4);
  h.writeUInt32BE(1_700_000_000, 8);
  h.writeUInt32BE(seq, 12);
  h.writeUInt32BE(5, 16);
  parts.push(h);
  if (withTemplate) {
    const fields = [
      [8, 4],
      [12, 4],
      [1, 4],
      [2, 4],
      [4, 1],
    ];
    const t = Buffer.alloc(8 + fields.length * 4);
    t.writeUInt16BE(0, 0);
    t.writeUInt16BE(t.length, 2);
    t.writeUInt16BE(256, 4);
    t.writeUInt16BE(fields.length, 6);
    fields.forEach(([id, len], i) => {
      t.writeUInt16BE(id!, 8 + 4 * i);
      t.writeUInt16BE(len!, 10 + 4 * i);
    });
    parts.push(t);
  }
  if (flows.length > 0) {
    const len = 4 + 17 * flows.length;
    const d = Buffer.alloc(len + ((4 - (len % 4)) % 4));
    d.writeUInt16BE(256, 0);
    d.writeUInt16BE(d.length, 2);
    flows.forEach(([src, dst], i) => {
      const o = 4 + 17 * i;
      Buffer.from(src.split('.').map(Number)).copy(d, o);
      Buffer.from(dst.split('.').map(Number)).copy(d, o + 4);
      d.writeUInt32BE(100, o + 8);
      d.writeUInt32BE(1, o + 12);
      d.writeUInt8(6, o + 16);
    });
    parts.push(d);
  }
  return new Uint8Array(Buffer.concat(parts));
}

test("records are routed to each monitored endpoint's partition, batched per partition, unmonitored ones counted", () => {
  const shard = new DecodeShard(settings);
  shard.ingest(
    v9(
      1,
      [
        ['10.0.0.1', '8.8.8.8'], // one device
        ['10.0.0.2', '10.0.0.3'], // two devices: routed twice
        ['8.8.4.4', '1.1.1.1'], // none: unmonitored
        ['10.0.0.1', '9.9.9.9'],
        ['10.0.0.1', '9.9.9.8'],
      ],
      true,
    ),
    '192.0.2.1',
    Date.now(),
    VIA_UDP,
  );
  shard.emitPartial();
  const out = shard.take();
  assert.equal(out.stats.records, 5);
  assert.equal(out.stats.unmonitored, 1);
  assert.equal(out.stats.routed, 5);
  assert.equal(out.stats.packets['9'], 1);
  let copies = 0;
  for (const b of out.batches) {
    const { records, devices } = decodeFlowBatch(b.value);
    assert.equal(records.length, b.records);
    assert.ok(records.length <= settings.batchRecords);
    assert.equal(b.key, devices[0]);
    for (const d of devices) assert.equal(partitionFor(d, 4), b.partition);
    copies += records.length;
  }
  assert.equal(copies, 5);
  const forDevice1 = out.batches
    .flatMap((b) => decodeFlowBatch(b.value).devices)
    .filter((d) => d === '10.0.0.1');
  assert.equal(forDevice1.length, 3);
});

test('a full partition batch is emitted at once; a partial one waits for the linger time', () => {
  const shard = new DecodeShard({ ...settings, partitions: 1 });
  const t0 = 1_000_000;
  shard.ingest(v9(1, [['10.0.0.1', '8.8.8.8']], true), '192.0.2.1', t0, VIA_UDP);
  assert.equal(shard.hasBatches(), false);
  assert.equal(shard.lingerDue(t0 + 10), false);
  assert.equal(shard.lingerDue(t0 + 50), true);
  shard.ingest(
    v9(
      2,
      [
        ['10.0.0.1', '8.8.8.8'],
        ['10.0.0.1', '8.8.8.9'],
      ],
      false,
    ),
    '192.0.2.1',
    t0 + 1,
    VIA_UDP,
  );
  assert.equal(shard.hasBatches(), true);
  assert.equal(shard.take().batches[0]!.records, 3);
});

test('template state is shared as keyed entries and imported by another shard, which then decodes data at once', () => {
  const a = new DecodeShard(settings);
  a.ingest(v9(1, [], true), '192.0.2.1', Date.now(), VIA_UDP);
  const entries = a.syncTemplates();
  assert.deepEqual(
    entries.map((e) => e.key),
    ['192.0.2.1|9|5|256'],
  );
  assert.deepEqual(a.syncTemplates(), [], 'unchanged state publishes nothing');

  const b = new DecodeShard(settings);
  const r = b.importTemplates(entries.map((e) => ({ key: e.key, text: new TextDecoder().decode(e.value!) })));
  assert.deepEqual(r, { imported: 1, rejected: 0 });
  b.ingest(v9(2, [['10.0.0.1', '8.8.8.8']], false), '192.0.2.1', Date.now(), VIA_UDP);
  const out = b.take();
  assert.equal(out.stats.records, 1);
  assert.equal(out.stats.unknownTemplateSets, 0);
  assert.deepEqual(b.syncTemplates(), [], 'imported entries are not published again');

  const bad = b.importTemplates([{ key: 'x|9|1|256', text: '{not json' }]);
  assert.equal(bad.rejected, 1);
});

test('exporter statuses report packets, records, errors, templates and rate per address and domain', () => {
  const shard = new DecodeShard(settings);
  shard.ingest(v9(1, [['10.0.0.1', '8.8.8.8']], true), '192.0.2.9', 5000, VIA_UDP);
  shard.ingest(v9(2, [['10.0.0.1', '8.8.8.8']], false).subarray(0, 30), '192.0.2.9', 6000, VIA_UDP);
  shard.syncTemplates();
  const [entry] = shard.reportExporters(7000);
  assert.equal(entry!.key, '192.0.2.9|5');
  const status = decodeExporterStatus(entry!.value!);
  assert.ok(status);
  assert.equal(status.exporter, '192.0.2.9');
  assert.equal(status.observationDomain, 5);
  assert.equal(status.version, 9);
  assert.equal(status.packets, 2);
  assert.equal(status.records, 1);
  assert.equal(status.decodeErrors, 1);
  assert.equal(status.templates, 1);
  assert.equal(status.sequenceUnit, 'packets');
  assert.deepEqual(status.transports, ['udp']);
  assert.equal(status.firstSeenMs, 5000);
  assert.equal(status.lastSeenMs, 6000);
  assert.equal(status.recordsPerSecond, 0.5);
  assert.equal(status.collector, 'test/1');
  assert.deepEqual(shard.reportExporters(8000), [], 'only exporters seen since the last report');
  const invalid = shard.take().stats.invalid;
  assert.equal((invalid.truncated ?? 0) + (invalid.malformed ?? 0), 1);
});

/** A NetFlow v9 packet from source id 5 carrying an options template (scope: system) and one options
 * record with samplingInterval (34) = `interval`. */
function v9Sampling(seq: number, interval: number): Uint8Array {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(9, 0);
  h.writeUInt16BE(2, 2);
  h.writeUInt32BE(1000, 4);
  h.writeUInt32BE(1_700_000_000, 8);
  h.writeUInt32BE(seq, 12);
  h.writeUInt32BE(5, 16);
  // Options template 300: scope System (1, 4 bytes), option samplingInterval (34, 4 bytes).
  const t = Buffer.alloc(4 + 6 + 8);
  t.writeUInt16BE(1, 0);
  t.writeUInt16BE(t.length, 2);
  t.writeUInt16BE(300, 4);
  t.writeUInt16BE(4, 6);
  t.writeUInt16BE(4, 8);
  t.writeUInt16BE(1, 10);
  t.writeUInt16BE(4, 12);
  t.writeUInt16BE(34, 14);
  t.writeUInt16BE(4, 16);
  const d = Buffer.alloc(4 + 8);
  d.writeUInt16BE(300, 0);
  d.writeUInt16BE(d.length, 2);
  d.writeUInt32BE(interval, 8);
  return new Uint8Array(Buffer.concat([h, t, d]));
}

test('a restarted collector keeps the sampling rate when a template entry follows the sampling entry in templates-v1', () => {
  const a = new DecodeShard(settings);
  // The exporter's options (sampling 1 in 100) come first, its flow template in a later packet: on
  // the compacted topic the template's key first appears after the sampling key.
  a.ingest(v9Sampling(1, 100), '192.0.2.1', Date.now(), VIA_UDP);
  const topic = new Map<string, string>();
  const text = new TextDecoder();
  for (const e of a.syncTemplates()) topic.set(e.key, text.decode(e.value!));
  a.ingest(v9(2, [['10.0.0.1', '8.8.8.8']], true), '192.0.2.1', Date.now(), VIA_UDP);
  a.emitPartial();
  const before = a.take().batches.flatMap((b) => decodeFlowBatch(b.value).records);
  assert.equal(before[0]!.samplingRate, 100);
  for (const e of a.syncTemplates()) topic.set(e.key, text.decode(e.value!));
  assert.deepEqual([...topic.keys()], ['192.0.2.1|9|5|300', '192.0.2.1|9|5|sampling', '192.0.2.1|9|5|256']);

  // Restart: a new shard imports the topic in its order, then data arrives without options.
  const b = new DecodeShard(settings);
  b.importTemplates([...topic].map(([key, t]) => ({ key, text: t })));
  b.ingest(v9(3, [['10.0.0.1', '8.8.8.8']], false), '192.0.2.1', Date.now(), VIA_UDP);
  b.emitPartial();
  const after = b.take().batches.flatMap((x) => decodeFlowBatch(x.value).records);
  assert.equal(after.length, 1);
  assert.equal(after[0]!.samplingRate, 100);
});

/** An IPFIX message (domain 5) with template 400 (sourceIPv6Address, destinationIPv6Address,
 * octetDeltaCount) and one record per [src, dst] pair of 16-byte addresses. */
function ipfixV6(flows: [number[], number[]][]): Uint8Array {
  const tpl = Buffer.alloc(4 + 4 + 3 * 4);
  tpl.writeUInt16BE(2, 0);
  tpl.writeUInt16BE(tpl.length, 2);
  tpl.writeUInt16BE(400, 4);
  tpl.writeUInt16BE(3, 6);
  for (const [i, v] of [27, 16, 28, 16, 1, 4].entries()) tpl.writeUInt16BE(v, 8 + 2 * i);
  const data = Buffer.alloc(4 + 36 * flows.length);
  data.writeUInt16BE(400, 0);
  data.writeUInt16BE(data.length, 2);
  flows.forEach(([src, dst], i) => {
    Buffer.from(src).copy(data, 4 + 36 * i);
    Buffer.from(dst).copy(data, 20 + 36 * i);
    data.writeUInt32BE(100, 36 + 36 * i);
  });
  const h = Buffer.alloc(16);
  h.writeUInt16BE(10, 0);
  h.writeUInt16BE(16 + tpl.length + data.length, 2);
  h.writeUInt32BE(1_700_000_000, 4);
  h.writeUInt32BE(5, 12);
  return new Uint8Array(Buffer.concat([h, tpl, data]));
}

test('a host exported as an IPv4-mapped IPv6 address is the same device, on the same partition, as its IPv4 address', () => {
  const mapped = (a: string) => [...new Array(10).fill(0), 0xff, 0xff, ...a.split('.').map(Number)];
  const shard = new DecodeShard(settings);
  shard.ingest(v9(1, [['10.0.0.1', '8.8.8.8']], true), '192.0.2.1', 1000, VIA_UDP);
  shard.ingest(ipfixV6([[mapped('10.0.0.1'), mapped('8.8.8.8')]]), '192.0.2.2', 1000, VIA_UDP);
  shard.emitPartial();
  const out = shard.take();
  assert.equal(out.stats.routed, 2);
  const devices = out.batches.flatMap((b) => decodeFlowBatch(b.value).devices);
  assert.deepEqual(devices, ['10.0.0.1', '10.0.0.1']);
  assert.equal(out.batches.length, 1, 'one partition');
  const records = out.batches.flatMap((b) => decodeFlowBatch(b.value).records);
  assert.deepEqual(
    records.map((r) => [r.srcAddr, r.dstAddr]),
    [
      ['10.0.0.1', '8.8.8.8'],
      ['10.0.0.1', '8.8.8.8'],
    ],
  );
});

/** An IPFIX message from domain 7 carrying the given sets. */
function ipfixMessage(...sets: Buffer[]): Uint8Array {
  const h = Buffer.alloc(16);
  const body = Buffer.concat(sets);
  h.writeUInt16BE(10, 0);
  h.writeUInt16BE(16 + body.length, 2);
  h.writeUInt32BE(1_700_000_000, 4);
  h.writeUInt32BE(7, 12);
  return new Uint8Array(Buffer.concat([h, body]));
}

/** An IPFIX template set defining each id as (sourceIPv4Address, octetDeltaCount). */
function ipfixTemplates(ids: number[]): Buffer {
  const b = Buffer.alloc(4 + 12 * ids.length);
  b.writeUInt16BE(2, 0);
  b.writeUInt16BE(b.length, 2);
  ids.forEach((id, i) => {
    b.writeUInt16BE(id, 4 + 12 * i);
    b.writeUInt16BE(2, 6 + 12 * i);
    b.writeUInt32BE((8 << 16) | 4, 8 + 12 * i);
    b.writeUInt32BE((1 << 16) | 4, 12 + 12 * i);
  });
  return b;
}

/** An IPFIX template withdrawal set (id 2 withdraws all data templates). */
function ipfixWithdrawal(ids: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * ids.length);
  b.writeUInt16BE(2, 0);
  b.writeUInt16BE(b.length, 2);
  for (const [i, id] of ids.entries()) b.writeUInt16BE(id, 4 + 4 * i);
  return b;
}

const tombstones = (entries: { key: string; value: Uint8Array | null }[]) =>
  entries.filter((e) => e.value === null).map((e) => e.key);

test('an imported template entry the decoder refuses (over its limits) is not tombstoned on templates-v1', () => {
  // Another collector (or this one before a restart) published two templates of one exporter; this
  // collector's decoder may hold only one template per exporter.
  const a = new DecodeShard(settings);
  a.ingest(ipfixMessage(ipfixTemplates([256, 257])), '192.0.2.1', 1000, VIA_UDP);
  const topic = a.syncTemplates().map((e) => ({ key: e.key, text: new TextDecoder().decode(e.value!) }));
  assert.deepEqual(
    topic.map((e) => e.key),
    ['192.0.2.1|10|7|256', '192.0.2.1|10|7|257'],
  );
  const b = new DecodeShard({ ...settings, decoder: { maxTemplatesPerExporter: 1 } });
  assert.deepEqual(b.importTemplates(topic), { imported: 1, rejected: 1 });
  b.ingest(v9(1, [], true), '192.0.2.9', 2000, VIA_UDP);
  const out = b.syncTemplates();
  assert.deepEqual(tombstones(out), [], 'the refused entry is another collector’s, not withdrawn');
  assert.deepEqual(
    out.map((e) => e.key),
    ['192.0.2.9|9|5|256'],
  );
});

test('templates of a session dropped under the memory limits are not tombstoned; exporter withdrawals are', () => {
  const shard = new DecodeShard({ ...settings, decoder: { maxSessions: 1 } });
  shard.ingest(ipfixMessage(ipfixTemplates([256, 257, 258])), '192.0.2.1', 1000, VIA_UDP);
  assert.equal(shard.syncTemplates().length, 3);
  // The exporter withdraws 256: that entry is gone for every collector.
  shard.ingest(ipfixMessage(ipfixWithdrawal([256])), '192.0.2.1', 1001, VIA_UDP);
  assert.deepEqual(tombstones(shard.syncTemplates()), ['192.0.2.1|10|7|256']);
  // A second exporter's session pushes the first one's out of this decoder: its remaining entries
  // stay on the topic for other collectors and the next restart.
  shard.ingest(v9(1, [], true), '192.0.2.9', 1002, VIA_UDP);
  const out = shard.syncTemplates();
  assert.deepEqual(tombstones(out), []);
  assert.deepEqual(
    out.map((e) => e.key),
    ['192.0.2.9|9|5|256'],
  );
  // The first exporter comes back and withdraws all its data templates: withdrawn entries are
  // tombstoned even though this shard had forgotten them in between.
  shard.ingest(ipfixMessage(ipfixTemplates([257, 258])), '192.0.2.1', 1003, VIA_UDP);
  assert.deepEqual(
    shard.syncTemplates().map((e) => [e.key, e.value !== null]),
    [
      ['192.0.2.1|10|7|257', true],
      ['192.0.2.1|10|7|258', true],
    ],
  );
  shard.ingest(ipfixMessage(ipfixWithdrawal([2])), '192.0.2.1', 1004, VIA_UDP);
  assert.deepEqual(tombstones(shard.syncTemplates()).sort(), ['192.0.2.1|10|7|257', '192.0.2.1|10|7|258']);
});

test('a flood of new exporters evicts the least recently seen ones from the registry, not a busy one seen first', () => {
  const shard = new DecodeShard(settings);
  const empty = v9(1, [], false);
  shard.ingest(empty, '192.0.2.1', 1000, VIA_UDP); // the real router, seen first
  // Forged sources fill the registry (4 096 entries per shard) while the router keeps sending.
  for (let i = 0; i < 5000; i++) {
    shard.ingest(empty, `198.18.${i >> 8}.${i & 255}`, 2000 + i, VIA_UDP);
    if (i % 1000 === 999) shard.ingest(empty, '192.0.2.1', 2000 + i, VIA_UDP);
  }
  const statuses = shard.reportExporters(10_000).map((e) => decodeExporterStatus(e.value!)!);
  assert.equal(statuses.length, 4096, 'the registry stays bounded');
  const router = statuses.find((s) => s.exporter === '192.0.2.1');
  assert.ok(router, 'the busy router is still in the registry');
  assert.equal(router.packets, 6);
  assert.equal(router.firstSeenMs, 1000);
  // The least recently seen forged sources went first.
  assert.equal(
    statuses.some((s) => s.exporter === '198.18.0.0'),
    false,
  );
  assert.ok(statuses.some((s) => s.exporter === '198.18.19.135')); // i = 4999
});
