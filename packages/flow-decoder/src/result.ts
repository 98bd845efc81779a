import type { FlowRecord } from '@wardwatch/flow-schema';

/** Stable codes for packets (or parts of packets) that cannot be decoded. */
export type DecodeErrorCode =
  /** Shorter than its header, or a set / record runs past the end of the message. */
  | 'TRUNCATED'
  /** Not NetFlow v5, v9 or IPFIX. */
  | 'UNSUPPORTED_VERSION'
  /** Lengths or counts that contradict each other, reserved set ids, impossible templates. */
  | 'MALFORMED';

/** Why a packet (or its remainder) could not be decoded. Decoding faults are never retriable. */
export interface DecodeError {
  code: DecodeErrorCode;
  message: string;
  /** Byte offset in the packet where the fault was found. */
  offset: number;
}

/** Where and when a packet was received; the decoder never reads clocks or sockets itself. */
export interface DecodeContext {
  /** Exporter address (the UDP source address, without the port: RFC 7011 §8 scopes templates by it). */
  exporter: string;
  /** Receive time, Unix milliseconds. Also the clock for held-data expiry. */
  receivedMs: number;
}

/**
 * Unit in which sequence loss is counted: v5 counts flows, v9 export packets, IPFIX data records,
 * sFlow flow samples (per data source).
 */
export type SequenceUnit = 'flows' | 'packets' | 'records' | 'samples';

/**
 * The `version` of sFlow datagrams and their records: 1000 + the sFlow version (1005 for sFlow v5),
 * so it never reads as NetFlow v5, v9 or IPFIX (10).
 */
export const SFLOW_VERSION = 1005;

/** One sFlow counter sample's interface counters (generic interface and Ethernet records), raw. */
export interface InterfaceCounters {
  /** The sFlow agent address and sub-agent that sent them. */
  agent: string;
  subAgentId: number;
  ifIndex: number;
  ifType: number;
  /** Bits per second. */
  ifSpeed: number;
  /** 0 unknown, 1 full duplex, 2 half duplex, 3 in, 4 out. */
  ifDirection: number;
  adminUp: boolean;
  operUp: boolean;
  inOctets: number;
  inUcastPkts: number;
  inMulticastPkts: number;
  inBroadcastPkts: number;
  inDiscards: number;
  inErrors: number;
  inUnknownProtos: number;
  outOctets: number;
  outUcastPkts: number;
  outMulticastPkts: number;
  outBroadcastPkts: number;
  outDiscards: number;
  outErrors: number;
  promiscuous: boolean;
  /** dot3Stats from the Ethernet record (0 when the agent sent none). */
  alignmentErrors: number;
  fcsErrors: number;
  lateCollisions: number;
  symbolErrors: number;
  /** When the datagram was received, Unix milliseconds. */
  receivedMs: number;
}

/** Per-packet counters for the collector's metrics; every field is a non-negative increment. */
export interface DecodeStats {
  /** Templates and options templates first seen or changed. */
  templatesLearned: number;
  /** Templates re-announced unchanged. */
  templatesRefreshed: number;
  /** Templates withdrawn (IPFIX withdrawal, single or all). */
  templatesWithdrawn: number;
  /** Templates refused: over the memory limits or impossible. */
  templatesRejected: number;
  /** Data sets whose template was unknown when they arrived. */
  unknownTemplateSets: number;
  /** Of those, sets kept to decode when their template arrives. */
  setsHeld: number;
  /** Held sets decoded during this call (their records are in `records`). */
  heldSetsReleased: number;
  /** Records decoded from held sets during this call. */
  heldRecordsReleased: number;
  /** Held sets dropped unreleased during this call: too old, or pushed out by the count/byte bound. */
  heldSetsExpired: number;
  /** Options data records decoded (sampling, interface tables, ...). */
  optionsRecords: number;
  /** Sets with a reserved set id, skipped. */
  reservedSets: number;
  /** Units lost per the exporter's sequence numbers, counted once a gap is older than the reorder window. */
  sequenceLost: number;
  /** Unit of `sequenceLost` for this packet's protocol. */
  sequenceUnit: SequenceUnit;
  /** Sequence jumps treated as an exporter restart (not counted as loss). */
  sequenceResets: number;
  /** Packets that arrived late and filled a gap (not counted as loss). */
  sequenceReordered: number;
  /** sFlow datagrams lost per the agent's (and sub-agent's) datagram sequence numbers. */
  datagramsLost: number;
}

/** One field of an options data record, raw. */
export interface OptionField {
  id: number;
  pen: number;
  /** True for scope fields. In NetFlow v9 scope ids are scope types (1 system, 2 interface, ...). */
  scope: boolean;
  value: Uint8Array;
}

/** An options data record (sampler configuration, interface table, application names...). */
export interface OptionsRecord {
  exporter: string;
  observationDomain: number;
  version: number;
  templateId: number;
  fields: OptionField[];
}

/** What a decode result holds whether or not the packet decoded whole. */
export interface DecodeParts {
  version: number;
  /**
   * The packet header's observation domain (v9 source id, IPFIX observation domain id, v5 engine
   * type and id); 0 when the packet is too short to hold it.
   */
  observationDomain: number;
  records: FlowRecord[];
  options: OptionsRecord[];
  stats: DecodeStats;
  /**
   * Ids of the templates the exporter withdrew in this packet (IPFIX withdrawal, single or all;
   * scope: the packet's exporter, version and domain); absent when none. Only these left the
   * state by the exporter's will: templates also leave it when evicted under the limits.
   */
  withdrawn?: number[];
  /** sFlow: the agent address and sub-agent id the datagram names (its exporter identity). */
  agent?: { address: string; subAgentId: number };
  /** sFlow: interface counters from counter samples; absent when none. */
  counters?: InterfaceCounters[];
}

/**
 * The outcome of decoding one export packet. On failure, `records` holds what was decoded before
 * the fault (self-consistent records from intact sets), so a collector can keep or drop them.
 */
export type DecodeResult = (DecodeParts & { ok: true }) | (DecodeParts & { ok: false; error: DecodeError });

/** Fresh all-zero stats. */
export function createStats(unit: SequenceUnit): DecodeStats {
  return {
    templatesLearned: 0,
    templatesRefreshed: 0,
    templatesWithdrawn: 0,
    templatesRejected: 0,
    unknownTemplateSets: 0,
    setsHeld: 0,
    heldSetsReleased: 0,
    heldRecordsReleased: 0,
    heldSetsExpired: 0,
    optionsRecords: 0,
    reservedSets: 0,
    sequenceLost: 0,
    sequenceUnit: unit,
    sequenceResets: 0,
    sequenceReordered: 0,
    datagramsLost: 0,
  };
}
