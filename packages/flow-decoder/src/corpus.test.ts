// Oracle 1: real exporter packets from the shared corpus, compared with the expected values other
// projects publish (NetGauze per-datagram JSON, telegraf expected.out).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { FlowRecord } from '@wardwatch/flow-schema';
import { decodePacket } from './decode.ts';
import type { DecodeResult } from './result.ts';
import { createDecoderState, type DecoderOptions } from './state.ts';
import { corpusDir, corpusPackets, haveCorpus, readManifest } from './test-helpers/corpus.ts';

const skip = haveCorpus() ? false : 'shared flow corpus not found (set WARDWATCH_SHARED_DIR)';

// Files that are malformed on purpose (or not an export version we decode), with the error they yield.
const MALFORMED: Record<string, string> = {
  'logstash-codec-netflow/spec/codecs/netflow5_test_invalid01.dat': 'MALFORMED',
  'logstash-codec-netflow/spec/codecs/netflow5_test_invalid02.dat': 'MALFORMED',
  'telegraf/plugins/inputs/netflow/testcases/issue_14370/message.bin': 'TRUNCATED',
  'vflow/ipfix/decoder_test_multiMessage.bin': 'MALFORMED',
  'vflow/ipfix/decoder_test_unknownDatasetMessage.bin': 'TRUNCATED',
  'python-netflow-v9-softflowd/tests/lib_PACKET_V1.bin': 'UNSUPPORTED_VERSION',
};

function decodeAll(file: string, packets: string, options: DecoderOptions = {}): DecodeResult[] {
  const state = createDecoderState(options);
  return corpusPackets(file, packets).map((p) =>
    decodePacket(p.payload, state, { exporter: p.exporter, receivedMs: p.receivedMs }),
  );
}

describe('flow corpus: every file', { skip }, () => {
  test('decodes without exceptions; only the malformed files yield typed errors', () => {
    const rows = readManifest().filter((r) => !r.file.endsWith('.json') && !r.file.endsWith('.out'));
    assert.ok(rows.length > 150, `manifest lists ${rows.length} packet files`);
    let records = 0;
    let options = 0;
    const seenMalformed = new Set<string>();
    for (const row of rows) {
      const results = decodeAll(row.file, row.packets);
      assert.ok(results.length > 0, `${row.file}: no packets`);
      const errors = results.flatMap((r) => (r.ok ? [] : [r.error.code]));
      const want = MALFORMED[row.file];
      if (want === undefined) {
        assert.deepEqual(errors, [], `${row.file}: unexpected errors`);
      } else {
        assert.deepEqual([...new Set(errors)], [want], `${row.file}: expected a ${want} error`);
        seenMalformed.add(row.file);
      }
      for (const r of results) {
        records += r.records.length;
        options += r.options.length;
        for (const rec of r.records) {
          assert.ok(rec.version === 5 || rec.version === 9 || rec.version === 10);
          assert.ok(Number.isFinite(rec.bytes) && rec.bytes >= 0, `${row.file}: bytes ${rec.bytes}`);
          assert.ok(rec.samplingRate >= 1, `${row.file}: samplingRate ${rec.samplingRate}`);
        }
      }
    }
    assert.equal(seenMalformed.size, Object.keys(MALFORMED).length);
    assert.ok(records > 14000, `decoded ${records} records`);
    assert.ok(options > 2000, `decoded ${options} options records`);
  });

  test('the issue_14370 set that overruns its message still yields the records inside the message', () => {
    const [r] = decodeAll('telegraf/plugins/inputs/netflow/testcases/issue_14370/message.bin', '1');
    assert.ok(r !== undefined && !r.ok);
    assert.equal(r.error.code, 'TRUNCATED');
    assert.equal(r.records.length, 2);
    assert.equal(r.records[1]!.dstAddr, '2001:db8:0:1::1');
  });
});

interface Session {
  name: string;
  files: string[];
}

function sessions(): Session[] {
  const text = readFileSync(path.join(corpusDir(), 'SEQUENCES.txt'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const [name, files] = l.split('|');
      return {
        name: name!,
        files: files!.split(',').map((f) => `logstash-codec-netflow/spec/codecs/${f.trim()}`),
      };
    });
}

/** Record identity for comparing decodes of the same flows in different arrival orders. */
function key(r: FlowRecord): string {
  const { receivedMs: _r, extra, ...rest } = r;
  const ex = extra?.map((e) => `${e.pen}.${e.id}=${Buffer.from(e.value).toString('hex')}`).join(',');
  return JSON.stringify({ ...rest, ex });
}

function feed(files: string[], options: DecoderOptions = {}): DecodeResult[] {
  const state = createDecoderState(options);
  let t = 1_000;
  return files.flatMap((f) =>
    corpusPackets(f, '1').map((p) =>
      decodePacket(p.payload, state, { exporter: '192.0.2.1', receivedMs: t++ }),
    ),
  );
}

describe('flow corpus: exporter sessions (SEQUENCES.txt)', { skip }, () => {
  test('templates then data decode to flow or options records without errors', () => {
    for (const s of sessions()) {
      const results = feed(s.files);
      for (const r of results) assert.ok(r.ok, `${s.name}: ${r.ok ? '' : r.error.message}`);
      const n = results.reduce((a, r) => a + r.records.length + r.options.length, 0);
      const templates = results.reduce((a, r) => a + r.stats.templatesLearned, 0);
      if (s.name.includes('missing templates')) {
        assert.equal(n, 0, s.name);
        assert.ok(results.reduce((a, r) => a + r.stats.setsHeld, 0) > 0, `${s.name}: data not held`);
      } else assert.ok(n > 0 || (templates > 0 && s.files.length === 1), `${s.name}: nothing decoded`);
    }
  });

  test('data that arrives before its template is held and decoded to the same records', () => {
    let compared = 0;
    for (const s of sessions()) {
      if (s.files.length < 2) continue;
      const inOrder = feed(s.files).flatMap((r) => r.records.map(key));
      if (inOrder.length === 0) continue;
      // Data files first, template files last: everything must come out once the templates arrive.
      const reversed = feed([...s.files].reverse());
      const held = reversed.reduce((a, r) => a + r.stats.setsHeld, 0);
      const released = reversed.reduce((a, r) => a + r.stats.heldRecordsReleased, 0);
      assert.deepEqual(reversed.flatMap((r) => r.records.map(key)).sort(), [...inOrder].sort(), s.name);
      assert.equal(held > 0, released > 0, `${s.name}: held ${held} sets, released ${released} records`);
      if (released > 0) compared++;
    }
    assert.ok(compared >= 20, `compared ${compared} sessions`);
  });

  test('with holding disabled, early data is counted as unknown-template sets and lost', () => {
    const s = sessions().find((x) => x.name === 'Netflow 9 Cisco ASA');
    assert.ok(s);
    const results = feed([...s.files].reverse(), { maxHeldSets: 0 });
    assert.equal(
      results.reduce((a, r) => a + r.records.length, 0),
      0,
    );
    assert.ok(results.reduce((a, r) => a + r.stats.unknownTemplateSets, 0) > 0);
    assert.equal(
      results.reduce((a, r) => a + r.stats.setsHeld, 0),
      0,
    );
  });
});

// --- NetGauze: one JSON object per UDP datagram of the matching pcap. ---

type Json = Record<string, unknown>;

const PROTOCOLS: Record<string, number> = {
  ICMP: 1,
  IPv4: 4,
  TCP: 6,
  UDP: 17,
  IPv6: 41,
  IPv6ICMP: 58,
  VRRP: 112,
};
const TCP_BITS: Record<string, number> = {
  FIN: 1,
  SYN: 2,
  RST: 4,
  PSH: 8,
  ACK: 16,
  URG: 32,
  ECE: 64,
  CWR: 128,
};

function mac(v: unknown): string {
  return (v as number[]).map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Maps one NetGauze data record onto the FlowRecord columns it determines. */
function expectFromNetGauze(fields: Json[], header: Json, isV9: boolean): Partial<FlowRecord> {
  const e: Partial<FlowRecord> = {};
  const addr = (k: 'srcAddr' | 'dstAddr' | 'nextHop', v: unknown) => {
    const s = String(v);
    if (e[k] === undefined || (s !== '0.0.0.0' && s !== '::')) e[k] = s;
  };
  for (const f of fields) {
    const [name, v] = Object.entries(f)[0]!;
    switch (name) {
      case 'sourceIPv4Address':
      case 'sourceIPv6Address':
        addr('srcAddr', v);
        break;
      case 'destinationIPv4Address':
      case 'destinationIPv6Address':
        addr('dstAddr', v);
        break;
      case 'ipNextHopIPv4Address':
      case 'ipNextHopIPv6Address':
        addr('nextHop', v);
        break;
      case 'sourceTransportPort':
        e.srcPort = v as number;
        break;
      case 'destinationTransportPort':
        e.dstPort = v as number;
        break;
      case 'protocolIdentifier':
        e.protocol = typeof v === 'number' ? v : PROTOCOLS[v as string];
        assert.ok(e.protocol !== undefined, `protocol ${JSON.stringify(v)}`);
        break;
      case 'octetDeltaCount':
        e.bytes = v as number;
        break;
      case 'packetDeltaCount':
        e.packets = v as number;
        break;
      case 'ingressInterface':
        e.inputIf = v as number;
        break;
      case 'egressInterface':
        e.outputIf = v as number;
        break;
      case 'vlanId':
        e.srcVlan = v as number;
        break;
      case 'postVlanId':
        e.dstVlan = v as number;
        break;
      case 'sourceMacAddress':
        e.srcMac = mac(v);
        break;
      case 'destinationMacAddress':
        e.dstMac = mac(v);
        break;
      case 'bgpSourceAsNumber':
        e.srcAs = v as number;
        break;
      case 'bgpDestinationAsNumber':
        e.dstAs = v as number;
        break;
      case 'sourceIPv4PrefixLength':
      case 'sourceIPv6PrefixLength':
        e.srcMask = v as number;
        break;
      case 'destinationIPv4PrefixLength':
      case 'destinationIPv6PrefixLength':
        e.dstMask = v as number;
        break;
      case 'ipClassOfService':
        e.tos = v as number;
        break;
      case 'tcpControlBits': {
        let bits = 0;
        for (const [flag, set] of Object.entries(v as Record<string, boolean>))
          if (set) bits |= TCP_BITS[flag]!;
        e.tcpFlags = bits;
        break;
      }
      case 'flowDirection':
        e.direction = v === 'ingress' ? 0 : v === 'egress' ? 1 : (Object.values(v as Json)[0] as number);
        break;
      case 'flowStartMilliseconds':
        e.startMs = Date.parse(v as string);
        break;
      case 'flowEndMilliseconds':
        e.endMs = Date.parse(v as string);
        break;
      case 'flowStartSysUpTime':
      case 'flowEndSysUpTime':
        if (isV9) {
          const boot = Date.parse(header['unix_time'] as string) - (header['sys_up_time'] as number);
          e[name === 'flowStartSysUpTime' ? 'startMs' : 'endMs'] = boot + (v as number);
        }
        break;
    }
  }
  return e;
}

describe('flow corpus: NetGauze per-datagram decodes', { skip }, () => {
  const rows = haveCorpus()
    ? readManifest().filter((r) => r.file.startsWith('NetGauze/') && r.file.endsWith('.pcap'))
    : [];
  for (const row of rows) {
    const jsonFile = row.file.replace(/\.pcap$/, '-flow.json').replace(/srv6\.pcap-flow/, 'srv6-flow');
    test(`${path.basename(path.dirname(row.file))}/${path.basename(row.file)}`, () => {
      const lines = readFileSync(path.join(corpusDir(), jsonFile), 'utf8').trim().split('\n');
      const results = decodeAll(row.file, row.packets);
      assert.equal(results.length, lines.length, 'one JSON object per datagram');
      let compared = 0;
      for (let i = 0; i < lines.length; i++) {
        const top = JSON.parse(lines[i]!) as Json;
        const isV9 = 'NetFlowV9' in top;
        const msg = (top['IPFIX'] ?? top['NetFlowV9']) as Json;
        const expected: Partial<FlowRecord>[] = [];
        for (const set of msg['sets'] as Json[]) {
          const data = set['Data'] as Json | undefined;
          if (data === undefined) continue;
          for (const rec of data['records'] as Json[]) {
            if ((rec['scope_fields'] as unknown[]).length > 0) continue;
            expected.push(expectFromNetGauze(rec['fields'] as Json[], msg, isV9));
          }
        }
        const r = results[i]!;
        assert.ok(r.ok, `datagram ${i}: ${r.ok ? '' : r.error.message}`);
        assert.equal(r.records.length, expected.length, `datagram ${i}: record count`);
        for (let j = 0; j < expected.length; j++) {
          const got: FlowRecord = r.records[j]!;
          const want = expected[j]!;
          const picked: Record<string, unknown> = Object.fromEntries(
            Object.keys(want).map((k): [string, unknown] => [k, got[k as keyof FlowRecord]]),
          );
          assert.deepEqual(picked, want, `datagram ${i} record ${j}`);
          compared++;
        }
      }
      if (rows.length > 0) assert.ok(compared >= 0);
    });
  }
});

// --- telegraf: Influx line protocol per record, for the .bin files of a folder fed in name order. ---

function parseLine(line: string): { measurement: string; fields: Map<string, string> } {
  const [head, ...rest] = line.split(' ');
  const fieldText = rest.join(' ').replace(/ \d+$/, '');
  const fields = new Map<string, string>();
  // Values are numbers with a `u` suffix or double-quoted strings (which may contain commas).
  const re = /([a-z0-9_]+)=("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = re.exec(fieldText); m !== null; m = re.exec(fieldText)) fields.set(m[1]!, m[2]!);
  return { measurement: head!.split(',')[0]!, fields };
}

const num = (v: string) => Number(v.replace(/u$/, ''));
const str = (v: string) => v.replace(/^"|"$/g, '');

function tcpFlags(v: string): number {
  const s = str(v);
  const order = 'CEUAPRSF';
  let bits = 0;
  for (let i = 0; i < 8; i++) if (s[i] !== '.') bits |= 1 << (7 - order.indexOf(order[i]!));
  return bits;
}

const TELEGRAF: Record<string, (v: string) => [keyof FlowRecord, unknown]> = {
  src: (v) => ['srcAddr', str(v)],
  dst: (v) => ['dstAddr', str(v)],
  src_port: (v) => ['srcPort', num(v)],
  dst_port: (v) => ['dstPort', num(v)],
  protocol: (v) => ['protocol', { tcp: 6, udp: 17, icmp: 1 }[str(v)]],
  in_bytes: (v) => ['bytes', num(v)],
  in_packets: (v) => ['packets', num(v)],
  in_total_bytes: (v) => ['bytes', num(v)],
  in_total_packets: (v) => ['packets', num(v)],
  type_29305_85: (v) => ['reverseBytes', Number.parseInt(str(v), 16)],
  type_29305_86: (v) => ['reversePackets', Number.parseInt(str(v), 16)],
  flow_start_ms: (v) => ['startMs', num(v)],
  flow_end_ms: (v) => ['endMs', num(v)],
  in_snmp: (v) => ['inputIf', num(v)],
  out_snmp: (v) => ['outputIf', num(v)],
  src_mask: (v) => ['srcMask', num(v)],
  dst_mask: (v) => ['dstMask', num(v)],
  next_hop: (v) => ['nextHop', str(v)],
  bgp_src_as: (v) => ['srcAs', num(v)],
  bgp_dst_as: (v) => ['dstAs', num(v)],
  vlan_src: (v) => ['srcVlan', num(v)],
  in_src_mac: (v) => ['srcMac', str(v)],
  out_dst_mac: (v) => ['dstMac', str(v)],
  src_tos: (v) => ['tos', Number.parseInt(str(v), 16)],
  tcp_flags: (v) => ['tcpFlags', tcpFlags(v)],
  direction: (v) => ['direction', str(v) === 'ingress' ? 0 : 1],
};

describe('flow corpus: telegraf expected.out', { skip }, () => {
  const base = path.join(corpusDir(), 'telegraf/plugins/inputs/netflow/testcases');
  const cases = haveCorpus() ? readdirSync(base) : [];
  for (const dir of cases) {
    test(dir, () => {
      const bins = readdirSync(path.join(base, dir))
        .filter((f) => f.endsWith('.bin'))
        .sort()
        .map((f) => `telegraf/plugins/inputs/netflow/testcases/${dir}/${f}`);
      // telegraf drops data without a template; do the same so records line up one to one.
      const results = feed(bins, { maxHeldSets: 0 });
      const records = results.flatMap((r) => r.records);
      const options = results.flatMap((r) => r.options);
      const lines = readFileSync(path.join(base, dir, 'expected.out'), 'utf8')
        .trim()
        .split('\n')
        .map(parseLine);
      const flows = lines.filter((l) => l.measurement === 'netflow');
      const opts = lines.filter((l) => l.measurement === 'netflow_options');
      assert.equal(records.length, flows.length, 'flow record count');
      assert.equal(options.length, opts.length, 'options record count');
      let fieldsCompared = 0;
      flows.forEach((line, i) => {
        const got = records[i]!;
        for (const [name, value] of line.fields) {
          const map = TELEGRAF[name];
          if (map === undefined) continue;
          const [col, want] = map(value);
          assert.deepEqual(got[col], want, `record ${i} ${name} -> ${col}`);
          fieldsCompared++;
        }
      });
      assert.ok(flows.length === 0 || fieldsCompared > flows.length * 5, `compared ${fieldsCompared} fields`);
    });
  }
});

describe('flow corpus: sampling from options data', { skip }, () => {
  test('Cisco random 1-out-of-256 (selectorId scope, samplingSize/Population) applies to later flows', () => {
    const results = decodeAll(
      'NetGauze/assets/pcaps/pmacct-tests/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap',
      '5',
    );
    const at = results.findIndex((r) => r.options.length > 0);
    assert.ok(at >= 0);
    const after = results.slice(at + 1).flatMap((r) => r.records);
    assert.ok(after.length > 0);
    for (const r of after) assert.equal(r.samplingRate, 256);
  });

  test('NetFlow v9 options (scope interface, samplingInterval 100) apply to the flows', () => {
    const [r] = decodeAll('logstash-codec-netflow/spec/codecs/netflow9_test_invalid01.dat', '1');
    assert.ok(r?.ok);
    assert.deepEqual(
      r.records.map((x) => x.samplingRate),
      [100, 100],
    );
  });
});
