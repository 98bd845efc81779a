import type { FlowRecord } from '@wardwatch/flow-schema';
import { readUint } from './format.ts';
import {
  type DataContext,
  decodeRecords,
  type Template,
  type TemplateField,
  VARIABLE_LENGTH,
} from './plan.ts';
import type { DecodeError, DecodeErrorCode, DecodeStats, OptionField, OptionsRecord } from './result.ts';
import { type DecoderState, type Session, storeTemplate } from './state.ts';

/** Everything one packet's decoding accumulates; shared by the v9 and IPFIX parsers. */
export interface PacketRun {
  state: DecoderState;
  session: Session;
  records: FlowRecord[];
  options: OptionsRecord[];
  stats: DecodeStats;
  error: DecodeError | undefined;
  dc: DataContext;
  /** Template ids learned or refreshed in this packet (held data may be waiting for them). */
  learned: number[];
  /** Data records (flow + options) decoded from this packet's own sets. */
  dataRecords: number;
  /** Template ids the exporter withdrew in this packet; undefined until one is. */
  withdrawn: number[] | undefined;
}

/** Creates the per-set decoding context of a session. */
export function createDataContext(
  state: DecoderState,
  s: Session,
  receivedMs: number,
  exportMs: number,
  bootMs: number,
  sysUptime: number,
): DataContext {
  return {
    exporter: s.exporter,
    domain: s.domain,
    version: s.version,
    templateId: 0,
    exportMs,
    bootMs,
    sysUptime,
    receivedMs,
    samplingRate: s.defaultRate > 0 ? s.defaultRate : 1,
    samplers: s.samplers.size > 0 ? s.samplers : undefined,
    scale: state.scaleCounters,
    fault: -1,
  };
}

/** Starts one packet's run: nothing decoded yet, counting in `stats`, records decoded through `dc`. */
export function createPacketRun(
  state: DecoderState,
  session: Session,
  stats: DecodeStats,
  dc: DataContext,
): PacketRun {
  return {
    state,
    session,
    records: [],
    options: [],
    stats,
    error: undefined,
    dc,
    learned: [],
    dataRecords: 0,
    withdrawn: undefined,
  };
}

/** Records the first fault of a packet. */
export function fail(run: PacketRun, code: DecodeErrorCode, message: string, offset: number): void {
  if (run.error === undefined) run.error = { code, message, offset };
}

/** Stores a parsed template and counts the outcome. */
export function learn(
  run: PacketRun,
  id: number,
  options: boolean,
  scopeCount: number,
  fields: TemplateField[],
): void {
  const outcome = storeTemplate(run.state, run.session, id, options, scopeCount, fields);
  if (outcome === 'rejected') {
    run.stats.templatesRejected++;
    return;
  }
  if (outcome === 'learned') run.stats.templatesLearned++;
  else run.stats.templatesRefreshed++;
  if (run.state.held.length > 0) run.learned.push(id);
}

/** Decodes one data set body `[start, end)` with a known template; returns the records decoded. */
export function decodeWith(
  run: PacketRun,
  t: Template,
  b: Uint8Array,
  start: number,
  end: number,
  dc: DataContext,
): number {
  dc.templateId = t.id;
  if (t.plan !== undefined) {
    const n = decodeRecords(t.plan, b, start, end, dc, run.records);
    if (dc.fault >= 0)
      fail(run, 'MALFORMED', `template ${t.id}: variable-length field overruns its set`, dc.fault);
    return n;
  }
  return decodeOptions(run, t, b, start, end);
}

/** Decodes a data set, or holds it when its template is not known yet. */
export function dataSet(run: PacketRun, setId: number, b: Uint8Array, start: number, end: number): void {
  const t = run.session.templates.get(setId);
  if (t !== undefined) {
    run.dataRecords += decodeWith(run, t, b, start, end, run.dc);
    return;
  }
  run.stats.unknownTemplateSets++;
  const { state, dc } = run;
  const lim = state.limits;
  const size = end - start;
  if (lim.maxHeldSets === 0 || size > lim.maxHeldBytes) return;
  state.held.push({
    sessionKey: run.session.key,
    templateId: setId,
    data: new Uint8Array(b.subarray(start, end)),
    receivedMs: dc.receivedMs,
    exportMs: dc.exportMs,
    sysUptime: dc.sysUptime,
    bootMs: dc.bootMs,
  });
  state.heldBytes += size;
  run.stats.setsHeld++;
  while (state.held.length > lim.maxHeldSets || state.heldBytes > lim.maxHeldBytes) {
    const old = state.held.shift()!;
    state.heldBytes -= old.data.length;
    run.stats.heldSetsExpired++;
  }
}

/** Decodes held sets whose template arrived in this packet (call after all sets are parsed). */
export function releaseHeld(run: PacketRun): void {
  const { state, session } = run;
  if (run.learned.length === 0 || state.held.length === 0) return;
  const keep = [];
  for (const h of state.held) {
    const t = h.sessionKey === session.key ? session.templates.get(h.templateId) : undefined;
    if (t === undefined || !run.learned.includes(h.templateId)) {
      keep.push(h);
      continue;
    }
    state.heldBytes -= h.data.length;
    const dc: DataContext = {
      ...run.dc,
      exportMs: h.exportMs,
      bootMs: Number.isNaN(h.bootMs) ? session.sysInitMs : h.bootMs,
      sysUptime: h.sysUptime,
      receivedMs: h.receivedMs,
    };
    const before = run.records.length;
    decodeWith(run, t, h.data, 0, h.data.length, dc);
    run.stats.heldSetsReleased++;
    run.stats.heldRecordsReleased += run.records.length - before;
  }
  state.held = keep;
}

/** Decodes options data records, learning sampler intervals and the IPFIX init time from them. */
function decodeOptions(run: PacketRun, t: Template, b: Uint8Array, start: number, end: number): number {
  const fields = t.fields;
  let minLen = 0;
  for (const f of fields) minLen += f.length === VARIABLE_LENGTH ? 1 : f.length;
  if (minLen === 0) return 0;
  const { session, dc } = run;
  let p = start;
  let count = 0;
  while (end - p >= minLen) {
    const out: OptionField[] = [];
    let o = p;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      let len = f.length;
      if (len === VARIABLE_LENGTH) {
        len = o < end ? b[o++]! : 0;
        if (len === 255 && o + 2 <= end) {
          len = (b[o]! << 8) | b[o + 1]!;
          o += 2;
        }
      }
      if (o + len > end) {
        fail(run, 'MALFORMED', `options template ${t.id}: field overruns its set`, o);
        return count;
      }
      out.push({
        id: f.id,
        pen: f.pen,
        scope: i < t.scopeCount,
        value: new Uint8Array(b.subarray(o, o + len)),
      });
      o += len;
    }
    applyOptions(run.state.limits.maxSamplersPerSession, session, out);
    run.options.push({
      exporter: session.exporter,
      observationDomain: session.domain,
      version: session.version,
      templateId: t.id,
      fields: out,
    });
    run.stats.optionsRecords++;
    count++;
    p = o;
  }
  dc.samplingRate = session.defaultRate > 0 ? session.defaultRate : 1;
  dc.samplers = session.samplers.size > 0 ? session.samplers : undefined;
  if (!Number.isNaN(session.sysInitMs) && session.version === 10) dc.bootMs = session.sysInitMs;
  return count;
}

// Sampler configuration: samplerId (48) / selectorId (302) name a sampler; samplingInterval (34),
// samplerRandomInterval (50), samplingPacketInterval/Space (305/306, systematic count-based),
// samplingSize/Population (309/310, random n-out-of-N) or samplingProbability (311) its interval.
function applyOptions(maxSamplers: number, s: Session, fields: OptionField[]): void {
  let sampler = -1;
  let interval = 0;
  let pktInterval = 0;
  let pktSpace = 0;
  let size = 0;
  let population = 0;
  let algorithm = 0;
  let probability = 0;
  for (const f of fields) {
    // v9 scope ids are scope types (1 system, 2 interface...), not element ids.
    if (f.pen !== 0 || (f.scope && s.version === 9)) continue;
    const len = f.value.length;
    if (len < 1 || len > 8) continue;
    if (f.id === 311 && len === 8) {
      probability = new DataView(f.value.buffer, f.value.byteOffset, 8).getFloat64(0);
      continue;
    }
    const v = readUint(f.value, 0, len);
    switch (f.id) {
      case 48:
      case 302:
        sampler = v;
        break;
      case 34:
      case 50:
        interval = v;
        break;
      case 305:
        pktInterval = v;
        break;
      case 306:
        pktSpace = v;
        break;
      case 304:
        algorithm = v;
        break;
      case 309:
        size = v;
        break;
      case 310:
        population = v;
        break;
      case 160:
        if (len === 8 && v > 0) s.sysInitMs = v;
        break;
    }
  }
  // selectorAlgorithm (RFC 5475): 1 systematic count-based, 3 random n-out-of-N, 4 uniform
  // probabilistic. Without it, infer from the elements present (Cisco also sends a stray
  // samplingPacketInterval of 1 with random n-out-of-N).
  const countBased = pktInterval > 0 ? (pktInterval + pktSpace) / pktInterval : 0;
  const nOutOfN = size > 0 && population >= size ? population / size : 0;
  const probabilistic = probability > 0 && probability <= 1 ? 1 / probability : 0;
  let rate = 0;
  if (interval > 0) rate = interval;
  else if (algorithm === 1) rate = countBased;
  else if (algorithm === 3) rate = nOutOfN;
  else if (algorithm === 4) rate = probabilistic;
  else rate = nOutOfN || (pktSpace > 0 ? countBased : 0) || probabilistic || countBased;
  if (rate <= 0) return;
  if (sampler < 0) s.defaultRate = rate;
  else if (s.samplers.has(sampler) || s.samplers.size < maxSamplers) s.samplers.set(sampler, rate);
}
