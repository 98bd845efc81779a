/** One information element without a column of its own, kept as raw bytes (enterprise or unknown). */
export interface ExtraField {
  /** Information element id (without the enterprise bit). */
  id: number;
  /** Private Enterprise Number; 0 for IANA elements. */
  pen: number;
  value: Uint8Array;
}

/**
 * One normalised flow record, as every Wardwatch component sees it. Mirrors `FlowRecord` in
 * `proto/wardwatch/flow/v1/flow.proto` field for field; absent values are 0 or ''.
 */
export interface FlowRecord {
  /** Exporter (router) address that sent the export packet. */
  exporter: string;
  /** NetFlow v9 source id / IPFIX observation domain; v5: engine_type << 8 | engine_id. */
  observationDomain: number;
  /** Export protocol: 5, 9 or 10 (IPFIX). */
  version: number;
  /** Template that described the record (0 for v5). */
  templateId: number;
  /** Dotted IPv4 or RFC 5952 IPv6; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is written as IPv4. */
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  tcpFlags: number;
  tos: number;
  bytes: number;
  packets: number;
  /** RFC 5103 reverse counters for biflows; 0 when unidirectional. */
  reverseBytes: number;
  reversePackets: number;
  /** Flow start and end as Unix milliseconds. */
  startMs: number;
  endMs: number;
  inputIf: number;
  outputIf: number;
  /** vlanId/postVlanId (58/59), else dot1qVlanId/postDot1qVlanId (243/254); a non-zero 58/59 wins. */
  srcVlan: number;
  dstVlan: number;
  /** aa:bb:cc:dd:ee:ff, '' when not exported. */
  srcMac: string;
  dstMac: string;
  srcAs: number;
  dstAs: number;
  nextHop: string;
  srcMask: number;
  dstMask: number;
  /** Packet sampling interval; 1 = unsampled. */
  samplingRate: number;
  /** 0 ingress, 1 egress, 255 unknown. */
  direction: number;
  /** Elements without a column of their own; undefined when there are none. */
  extra: ExtraField[] | undefined;
  /** When the collector received the export packet, Unix milliseconds. */
  receivedMs: number;
}

/** A record with every field at its empty value; decoders fill in what the exporter sent. */
export function createFlowRecord(): FlowRecord {
  return {
    exporter: '',
    observationDomain: 0,
    version: 0,
    templateId: 0,
    srcAddr: '',
    dstAddr: '',
    srcPort: 0,
    dstPort: 0,
    protocol: 0,
    tcpFlags: 0,
    tos: 0,
    bytes: 0,
    packets: 0,
    reverseBytes: 0,
    reversePackets: 0,
    startMs: 0,
    endMs: 0,
    inputIf: 0,
    outputIf: 0,
    srcVlan: 0,
    dstVlan: 0,
    srcMac: '',
    dstMac: '',
    srcAs: 0,
    dstAs: 0,
    nextHop: '',
    srcMask: 0,
    dstMask: 0,
    samplingRate: 1,
    direction: 255,
    extra: undefined,
    receivedMs: 0,
  };
}
