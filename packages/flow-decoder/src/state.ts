import { createTemplate, sameFields, type Template, type TemplateField } from './plan.ts';
import { createSequenceTracker, type SequenceTracker } from './sequence.ts';

/** Memory bounds and policies of a decoder state. */
export interface DecoderLimits {
  /** Templates (data + options) one exporter address may hold across its domains. */
  maxTemplatesPerExporter: number;
  /** Templates held overall; past it the least recently active exporter session is evicted. */
  maxTemplates: number;
  /** Exporter sessions (exporter, version, domain) held; past it the least recently active is evicted. */
  maxSessions: number;
  /** Fields in one template; longer templates are rejected. */
  maxTemplateFields: number;
  /** Fields of all templates together (each costs about 80 bytes compiled). */
  maxTemplateFieldsTotal: number;
  /** Data sets held while waiting for their template (0 disables holding). */
  maxHeldSets: number;
  /** Bytes of held data sets. */
  maxHeldBytes: number;
  /** Age (by `ctx.receivedMs`) after which a held set expires. */
  maxHeldAgeMs: number;
  /** Samplers remembered per exporter session. */
  maxSamplersPerSession: number;
  /** How many export packets late a packet may be and still count as reordered rather than a restart. */
  reorderWindowPackets: number;
  /** The same window for protocols that count records (v5 flows, IPFIX records). */
  reorderWindowRecords: number;
  /** Largest forward sequence jump counted as loss; larger jumps count as a restart. */
  maxSequenceGap: number;
  /** sFlow data sources (per-source sample sequence trackers) held across all agents. */
  maxSflowSources: number;
}

/** Options of `createDecoderState`: limits, plus whether counters are scaled by the sampling interval. */
export interface DecoderOptions extends Partial<DecoderLimits> {
  /** Multiply bytes/packets (and reverse) by the sampling interval; `samplingRate` is kept either way. */
  scaleCounters?: boolean;
}

/** Default limits: roomy for a hospital's routers, small enough that a hostile exporter cannot exhaust memory. */
export const DEFAULT_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxTemplatesPerExporter: 512,
  maxTemplates: 16384,
  maxSessions: 4096,
  maxTemplateFields: 512,
  maxTemplateFieldsTotal: 500_000,
  maxHeldSets: 1024,
  maxHeldBytes: 8 * 1024 * 1024,
  maxHeldAgeMs: 120_000,
  maxSamplersPerSession: 256,
  reorderWindowPackets: 32,
  reorderWindowRecords: 1024,
  maxSequenceGap: 10_000_000,
  maxSflowSources: 65536,
});

/** Per (exporter, version, observation domain) state: RFC 7011 §8 template scope, sampling, sequence. */
export interface Session {
  key: string;
  exporter: string;
  version: number;
  domain: number;
  templates: Map<number, Template>;
  /** Sampler id -> sampling interval, from options data. */
  samplers: Map<number, number>;
  /** Interval from options data without a sampler id; 0 when unknown. */
  defaultRate: number;
  /** IPFIX systemInitTimeMilliseconds from options data; NaN when unknown. */
  sysInitMs: number;
  seq: SequenceTracker;
  /** sFlow: flow-sample sequence per data source (type * 2^32 + index); created on first use. */
  sources?: Map<number, SequenceTracker>;
}

/** A data set kept until its template arrives. */
export interface HeldSet {
  sessionKey: string;
  templateId: number;
  data: Uint8Array;
  receivedMs: number;
  exportMs: number;
  sysUptime: number;
  bootMs: number;
}

/** Everything the decoder remembers between packets. Opaque: use the exported functions. */
export interface DecoderState {
  readonly limits: Readonly<DecoderLimits>;
  readonly scaleCounters: boolean;
  /** Insertion order = least recently active first. */
  sessions: Map<string, Session>;
  /** Templates per exporter address. */
  exporterTemplates: Map<string, number>;
  templateCount: number;
  /** Fields of all templates. */
  templateFields: number;
  held: HeldSet[];
  heldBytes: number;
  /** sFlow data sources tracked across sessions. */
  sflowSources: number;
}

/** Creates an empty decoder state with bounded memory. */
export function createDecoderState(options: DecoderOptions = {}): DecoderState {
  const { scaleCounters, ...limits } = options;
  const merged: DecoderLimits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0)
      (merged as unknown as Record<string, number>)[k] = v;
  }
  return {
    limits: Object.freeze(merged),
    scaleCounters: scaleCounters === true,
    sessions: new Map(),
    exporterTemplates: new Map(),
    templateCount: 0,
    templateFields: 0,
    held: [],
    heldBytes: 0,
    sflowSources: 0,
  };
}

/** The session key: exporter address, protocol version and observation domain (never the port). */
export function sessionKey(exporter: string, version: number, domain: number): string {
  return `${exporter}|${version}|${domain}`;
}

function dropSession(state: DecoderState, s: Session): void {
  state.sessions.delete(s.key);
  if (s.sources !== undefined) state.sflowSources -= s.sources.size;
  for (const t of s.templates.values()) state.templateFields -= t.fields.length;
  const n = s.templates.size;
  if (n > 0) {
    state.templateCount -= n;
    const left = (state.exporterTemplates.get(s.exporter) ?? n) - n;
    if (left > 0) state.exporterTemplates.set(s.exporter, left);
    else state.exporterTemplates.delete(s.exporter);
  }
}

/** Finds or creates the session and marks it most recently active. */
export function touchSession(
  state: DecoderState,
  exporter: string,
  version: number,
  domain: number,
): Session {
  const key = sessionKey(exporter, version, domain);
  let s = state.sessions.get(key);
  if (s !== undefined) {
    // Keep the map in activity order, but only move sessions that are not already near the end.
    if (state.sessions.size > 1) {
      state.sessions.delete(key);
      state.sessions.set(key, s);
    }
    return s;
  }
  while (state.sessions.size >= state.limits.maxSessions && state.sessions.size > 0) {
    dropSession(state, state.sessions.values().next().value as Session);
  }
  s = {
    key,
    exporter,
    version,
    domain,
    templates: new Map(),
    samplers: new Map(),
    defaultRate: 0,
    sysInitMs: Number.NaN,
    seq: createSequenceTracker(),
  };
  state.sessions.set(key, s);
  return s;
}

/** Outcome of storing a template. */
export type StoreOutcome = 'learned' | 'refreshed' | 'rejected';

/** Stores (or replaces) a template under the per-exporter and overall bounds. */
export function storeTemplate(
  state: DecoderState,
  s: Session,
  id: number,
  options: boolean,
  scopeCount: number,
  fields: TemplateField[],
): StoreOutcome {
  if (fields.length > state.limits.maxTemplateFields) return 'rejected';
  const old = s.templates.get(id);
  if (
    old !== undefined &&
    old.options === options &&
    old.scopeCount === scopeCount &&
    sameFields(old.fields, fields)
  ) {
    return 'refreshed';
  }
  const perExporter = state.exporterTemplates.get(s.exporter) ?? 0;
  if (old === undefined && perExporter >= state.limits.maxTemplatesPerExporter) return 'rejected';
  if (fields.length > state.limits.maxTemplateFieldsTotal) return 'rejected';
  // Evict whole least-recently-active sessions of other exporters until there is room.
  const growth = fields.length - (old?.fields.length ?? 0);
  while (
    (old === undefined && state.templateCount >= state.limits.maxTemplates) ||
    state.templateFields + growth > state.limits.maxTemplateFieldsTotal
  ) {
    let victim: Session | undefined;
    for (const cand of state.sessions.values()) {
      if (cand !== s && cand.templates.size > 0) {
        victim = cand;
        break;
      }
    }
    if (victim === undefined) return 'rejected';
    dropSession(state, victim);
  }
  state.templateFields += growth;
  if (old !== undefined) {
    s.templates.set(id, createTemplate(id, options, scopeCount, fields));
    return 'learned';
  }
  s.templates.set(id, createTemplate(id, options, scopeCount, fields));
  state.templateCount++;
  state.exporterTemplates.set(s.exporter, perExporter + 1);
  return 'learned';
}

/** Removes templates matching `pred`, appending their ids to `ids`; returns how many. */
export function withdrawTemplates(
  state: DecoderState,
  s: Session,
  pred: (t: Template) => boolean,
  ids: number[],
): number {
  let n = 0;
  for (const [id, t] of s.templates) {
    if (pred(t)) {
      s.templates.delete(id);
      ids.push(id);
      state.templateFields -= t.fields.length;
      n++;
    }
  }
  if (n > 0) {
    state.templateCount -= n;
    const left = (state.exporterTemplates.get(s.exporter) ?? n) - n;
    if (left > 0) state.exporterTemplates.set(s.exporter, left);
    else state.exporterTemplates.delete(s.exporter);
  }
  return n;
}

/** Serialisable template and options state, for persisting or sharing between collectors. */
export interface TemplateSnapshot {
  format: 'wardwatch-decoder-templates';
  formatVersion: 1;
  sessions: {
    exporter: string;
    version: number;
    domain: number;
    /** [id, options (1) or data (0), scopeCount, fields as [elementId, length, pen]]. */
    templates: [number, number, number, [number, number, number][]][];
    /** [samplerId, interval]. */
    samplers: [number, number][];
    defaultRate: number;
    /** IPFIX systemInitTimeMilliseconds; null when unknown. */
    sysInitMs: number | null;
  }[];
}

/** Exports every session's templates, samplers and IPFIX init time as plain JSON-safe data. */
export function exportTemplates(state: DecoderState): TemplateSnapshot {
  const sessions: TemplateSnapshot['sessions'] = [];
  for (const s of state.sessions.values()) {
    if (s.templates.size === 0 && s.samplers.size === 0 && s.defaultRate === 0 && Number.isNaN(s.sysInitMs))
      continue;
    sessions.push({
      exporter: s.exporter,
      version: s.version,
      domain: s.domain,
      templates: [...s.templates.values()].map((t) => [
        t.id,
        t.options ? 1 : 0,
        t.scopeCount,
        t.fields.map((f) => [f.id, f.length, f.pen]),
      ]),
      samplers: [...s.samplers.entries()],
      defaultRate: s.defaultRate,
      sysInitMs: Number.isNaN(s.sysInitMs) ? null : s.sysInitMs,
    });
  }
  return { format: 'wardwatch-decoder-templates', formatVersion: 1, sessions };
}

const isUint = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

/**
 * Imports a snapshot into a state (merging; imported templates replace same-id ones), validating
 * every value and applying the state's limits. Returns how many templates were taken and refused.
 */
export function importTemplates(
  state: DecoderState,
  snapshot: unknown,
): { imported: number; rejected: number } {
  let imported = 0;
  let rejected = 0;
  const snap = snapshot as Partial<TemplateSnapshot> | null;
  if (snap === null || typeof snap !== 'object' || snap.format !== 'wardwatch-decoder-templates') {
    return { imported, rejected: 1 };
  }
  if (!Array.isArray(snap.sessions)) return { imported, rejected: 1 };
  for (const raw of snap.sessions) {
    if (raw === null || typeof raw !== 'object') {
      rejected++;
      continue;
    }
    const { exporter, version, domain } = raw;
    if (typeof exporter !== 'string' || ![5, 9, 10].includes(version) || !isUint(domain, 0xffffffff)) {
      rejected++;
      continue;
    }
    const s = touchSession(state, exporter, version, domain);
    for (const t of Array.isArray(raw.templates) ? raw.templates : []) {
      const [id, options, scopeCount, list] = Array.isArray(t) ? t : [];
      if (
        !isUint(id, 0xffff) ||
        id < 256 ||
        !isUint(options, 1) ||
        !isUint(scopeCount, 0xffff) ||
        !Array.isArray(list)
      ) {
        rejected++;
        continue;
      }
      const fields: TemplateField[] = [];
      let valid = scopeCount <= list.length;
      for (const f of list) {
        if (
          !Array.isArray(f) ||
          !isUint(f[0], 0xffff) ||
          !isUint(f[1], 0xffff) ||
          !isUint(f[2], 0xffffffff)
        ) {
          valid = false;
          break;
        }
        fields.push({ id: f[0], length: f[1], pen: f[2] });
      }
      if (!valid || storeTemplate(state, s, id, options === 1, scopeCount, fields) === 'rejected') rejected++;
      else imported++;
    }
    for (const p of Array.isArray(raw.samplers) ? raw.samplers : []) {
      if (Array.isArray(p) && isUint(p[0], Number.MAX_SAFE_INTEGER) && typeof p[1] === 'number' && p[1] > 0) {
        if (s.samplers.size < state.limits.maxSamplersPerSession || s.samplers.has(p[0]))
          s.samplers.set(p[0], p[1]);
      }
    }
    // 0 means "not known" (a snapshot of templates only, as each templates-v1 entry is): it must not
    // clear a rate an earlier entry of the same session brought.
    if (typeof raw.defaultRate === 'number' && raw.defaultRate > 0) s.defaultRate = raw.defaultRate;
    if (typeof raw.sysInitMs === 'number' && Number.isFinite(raw.sysInitMs)) s.sysInitMs = raw.sysInitMs;
  }
  return { imported, rejected };
}
