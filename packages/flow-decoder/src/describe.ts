import type { ExtraField } from '@wardwatch/flow-schema';
import { hexText, ipv4Text, ipv6Text, macText, readUint } from './format.ts';
import { informationElement } from './iana/elements.ts';

/** An extra field rendered for people: element name and a typed value. */
export interface DescribedField {
  /** IANA name (`reverseX` for RFC 5103), else `<pen>.<id>` for enterprise and `ie<id>` for unknown ids. */
  name: string;
  id: number;
  pen: number;
  value: string | number | boolean;
}

const NTP_UNIX_OFFSET_S = 2208988800;
const utf8 = new TextDecoder('utf-8', { fatal: false });

function isoOrNumber(ms: number): string | number {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? ms : d.toISOString();
}

/** Renders a raw field by its registry type (off the hot path: for the CLI and debugging). */
export function describeField(f: ExtraField): DescribedField {
  const ie = informationElement(f.id, f.pen);
  const name = ie?.name ?? (f.pen !== 0 ? `${f.pen}.${f.id}` : `ie${f.id}`);
  const v = f.value;
  const len = v.length;
  let value: string | number | boolean = hexText(v);
  switch (ie?.type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
      if (len >= 1 && len <= 8) {
        const n = readUint(v, 0, len);
        value = Number.isSafeInteger(n) ? n : BigInt(`0x${hexText(v)}`).toString();
      }
      break;
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64':
      if (len >= 1 && len <= 8) {
        const n = BigInt.asIntN(len * 8, BigInt(`0x${hexText(v)}`));
        value =
          n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(n)
            : n.toString();
      }
      break;
    case 'float32':
    case 'float64':
      if (len === 4 || len === 8) {
        const dv = new DataView(v.buffer, v.byteOffset, len);
        value = len === 4 ? dv.getFloat32(0) : dv.getFloat64(0);
      }
      break;
    case 'boolean':
      if (len === 1) value = v[0] === 1;
      break;
    case 'macAddress':
      if (len === 6) value = macText(v, 0);
      break;
    case 'ipv4Address':
      if (len === 4) value = ipv4Text(v, 0);
      break;
    case 'ipv6Address':
      if (len === 16) value = ipv6Text(v, 0);
      break;
    case 'string':
      value = utf8.decode(v).replace(/\0+$/, '');
      break;
    case 'dateTimeSeconds':
      if (len === 4) value = isoOrNumber(readUint(v, 0, 4) * 1000);
      break;
    case 'dateTimeMilliseconds':
      if (len >= 1 && len <= 8) value = isoOrNumber(readUint(v, 0, len));
      break;
    case 'dateTimeMicroseconds':
    case 'dateTimeNanoseconds':
      if (len === 8) {
        const ms = (readUint(v, 0, 4) - NTP_UNIX_OFFSET_S) * 1000 + (readUint(v, 4, 4) * 1000) / 4294967296;
        value = isoOrNumber(ms);
      }
      break;
  }
  return { name, id: f.id, pen: f.pen, value };
}
