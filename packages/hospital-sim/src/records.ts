import { createDeviceMatcher, createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { ipLength, type SyntheticPacket } from './pcap.ts';
import { mulberry32, seedOf } from './rng.ts';

/** How {@link packetsToRecords} labels the records. */
export interface RecordOptions {
  /** Exporter address on every record (default 127.0.0.1). */
  exporter?: string;
  /** Export version to claim (default 9). */
  version?: number;
  /** Receive time to stamp (default: the window's last packet time). */
  receivedMs?: number;
  /**
   * Random packet sampling, 1 in `samplingRate` (default 1: every packet), as sFlow agents and sampling
   * NetFlow exporters do; counters stay as sampled and each record carries the rate.
   */
  samplingRate?: number;
  /** Seed of the sampling (default 1): the same seed and packets give the same sample. */
  samplingSeed?: number;
}

/**
 * Aggregates packets into unidirectional flow records, one per 5-tuple (what an exporter whose active
 * timeout is the window sends): IP-layer bytes, packets, OR of TCP flags, first and last packet time.
 */
export function packetsToRecords(
  packets: readonly SyntheticPacket[],
  opts: RecordOptions = {},
): FlowRecord[] {
  const flows = new Map<string, FlowRecord>();
  let lastTs = 0;
  const rate = Math.max(1, Math.floor(opts.samplingRate ?? 1));
  const pick = rate > 1 ? mulberry32(seedOf(opts.samplingSeed ?? 1, packets[0]?.tsMs ?? 0)) : undefined;
  for (const p of packets) {
    if (pick && pick() * rate >= 1) continue;
    const key = `${p.src}|${p.dst}|${p.srcPort ?? 0}|${p.dstPort ?? 0}|${p.protocol}`;
    let r = flows.get(key);
    if (!r) {
      r = createFlowRecord();
      r.exporter = opts.exporter ?? '127.0.0.1';
      r.version = opts.version ?? 9;
      r.samplingRate = rate > 1 ? rate : 0;
      r.srcAddr = p.src;
      r.dstAddr = p.dst;
      r.srcPort = p.srcPort ?? 0;
      r.dstPort = p.dstPort ?? 0;
      r.protocol = p.protocol;
      r.startMs = p.tsMs;
      r.endMs = p.tsMs;
      flows.set(key, r);
    }
    r.bytes += ipLength(p);
    r.packets += 1;
    if (p.protocol === 6) r.tcpFlags |= p.tcpFlags ?? 0x10;
    if (p.tsMs < r.startMs) r.startMs = p.tsMs;
    if (p.tsMs > r.endMs) r.endMs = p.tsMs;
    if (p.tsMs > lastTs) lastTs = p.tsMs;
  }
  const receivedMs = opts.receivedMs ?? lastTs;
  const out = [...flows.values()];
  for (const r of out) r.receivedMs = receivedMs;
  return out;
}

/**
 * Groups records by device as the collector routes them onto `flows-v1`: under each endpoint inside the
 * monitored networks (a flow between two devices goes to both).
 */
export function routeByDevice(
  records: readonly FlowRecord[],
  monitoredNetworks: readonly string[],
): Map<string, FlowRecord[]> {
  const matcher = createDeviceMatcher(monitoredNetworks);
  const out = new Map<string, FlowRecord[]>();
  const push = (d: string, r: FlowRecord) => {
    const l = out.get(d);
    if (l) l.push(r);
    else out.set(d, [r]);
  };
  for (const r of records) {
    if (matcher.isDevice(r.srcAddr)) push(r.srcAddr, r);
    if (r.dstAddr !== r.srcAddr && matcher.isDevice(r.dstAddr)) push(r.dstAddr, r);
  }
  return out;
}
