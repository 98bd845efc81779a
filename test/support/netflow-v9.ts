// A tiny NetFlow v9 packet builder for tests that need a template and its data in separate packets.

/** One flow of the fixed test template. */
export interface V9Flow {
  src: string;
  dst: string;
  bytes: number;
  packets: number;
  protocol: number;
}

/** Template 300: IPV4_SRC_ADDR(8), IPV4_DST_ADDR(12), IN_BYTES(1), IN_PKTS(2), PROTOCOL(4). */
const FIELDS: [number, number][] = [
  [8, 4],
  [12, 4],
  [1, 4],
  [2, 4],
  [4, 1],
];
export const V9_TEMPLATE_ID = 300;
const RECORD = 17;

function header(count: number, seq: number, sourceId: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(9, 0);
  h.writeUInt16BE(count, 2);
  h.writeUInt32BE(1_000_000, 4); // sysUptime ms
  h.writeUInt32BE(Math.floor(Date.now() / 1000), 8);
  h.writeUInt32BE(seq, 12);
  h.writeUInt32BE(sourceId, 16);
  return h;
}

/** A v9 packet carrying only the template flowset. */
export function v9TemplatePacket(seq: number, sourceId = 1): Buffer {
  const body = Buffer.alloc(4 + 4 + FIELDS.length * 4);
  body.writeUInt16BE(0, 0);
  body.writeUInt16BE(body.length, 2);
  body.writeUInt16BE(V9_TEMPLATE_ID, 4);
  body.writeUInt16BE(FIELDS.length, 6);
  FIELDS.forEach(([id, len], i) => {
    body.writeUInt16BE(id, 8 + i * 4);
    body.writeUInt16BE(len, 10 + i * 4);
  });
  return Buffer.concat([header(1, seq, sourceId), body]);
}

/** A v9 packet carrying only a data flowset for template 300. */
export function v9DataPacket(flows: readonly V9Flow[], seq: number, sourceId = 1): Buffer {
  const len = 4 + flows.length * RECORD;
  const padded = len + ((4 - (len % 4)) % 4);
  const body = Buffer.alloc(padded);
  body.writeUInt16BE(V9_TEMPLATE_ID, 0);
  body.writeUInt16BE(padded, 2);
  flows.forEach((f, i) => {
    const o = 4 + i * RECORD;
    Buffer.from(f.src.split('.').map(Number)).copy(body, o);
    Buffer.from(f.dst.split('.').map(Number)).copy(body, o + 4);
    body.writeUInt32BE(f.bytes, o + 8);
    body.writeUInt32BE(f.packets, o + 12);
    body.writeUInt8(f.protocol, o + 16);
  });
  return Buffer.concat([header(flows.length, seq, sourceId), body]);
}
