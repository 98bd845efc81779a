// A tiny IPFIX (RFC 7011) message builder for tests that frame messages themselves (IPFIX over TCP).
import type { V9Flow } from './netflow-v9.ts';

/** Template 256: sourceIPv4Address(8), destinationIPv4Address(12), octetDeltaCount(1), packetDeltaCount(2), protocolIdentifier(4). */
const FIELDS: [number, number][] = [
  [8, 4],
  [12, 4],
  [1, 4],
  [2, 4],
  [4, 1],
];
const TEMPLATE_ID = 256;
const RECORD = 17;

/** One IPFIX message: the template set, then a data set with `flows`. */
export function ipfixMessage(flows: readonly V9Flow[], seq: number, domain = 1): Buffer {
  const tset = Buffer.alloc(4 + 4 + FIELDS.length * 4);
  tset.writeUInt16BE(2, 0);
  tset.writeUInt16BE(tset.length, 2);
  tset.writeUInt16BE(TEMPLATE_ID, 4);
  tset.writeUInt16BE(FIELDS.length, 6);
  FIELDS.forEach(([id, len], i) => {
    tset.writeUInt16BE(id, 8 + i * 4);
    tset.writeUInt16BE(len, 10 + i * 4);
  });
  const dset = Buffer.alloc(4 + flows.length * RECORD);
  dset.writeUInt16BE(TEMPLATE_ID, 0);
  dset.writeUInt16BE(dset.length, 2);
  flows.forEach((f, i) => {
    const o = 4 + i * RECORD;
    Buffer.from(f.src.split('.').map(Number)).copy(dset, o);
    Buffer.from(f.dst.split('.').map(Number)).copy(dset, o + 4);
    dset.writeUInt32BE(f.bytes, o + 8);
    dset.writeUInt32BE(f.packets, o + 12);
    dset.writeUInt8(f.protocol, o + 16);
  });
  const h = Buffer.alloc(16);
  h.writeUInt16BE(10, 0);
  h.writeUInt16BE(16 + tset.length + dset.length, 2);
  h.writeUInt32BE(Math.floor(Date.now() / 1000), 4);
  h.writeUInt32BE(seq, 8);
  h.writeUInt32BE(domain, 12);
  return Buffer.concat([h, tset, dset]);
}
