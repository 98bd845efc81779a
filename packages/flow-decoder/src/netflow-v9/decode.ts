import { u16, u32 } from '../bytes.ts';
import { allZero } from '../format.ts';
import type { TemplateField } from '../plan.ts';
import { createStats, type DecodeContext } from '../result.ts';
import { observeSequence } from '../sequence.ts';
import {
  createDataContext,
  createPacketRun,
  dataSet,
  fail,
  learn,
  type PacketRun,
  releaseHeld,
} from '../sets.ts';
import { type DecoderState, touchSession } from '../state.ts';

// NetFlow v9 (RFC 3954), all fields big-endian.
//
// Packet header (20 bytes)
//   0 Version (9)   2 Count (records of all kinds; FortiGate/nProbe put the flowset count here)
//   4 sysUpTime (ms since the device booted)     8 UNIX Secs (export time)
//  12 Sequence Number (export packets, per Source ID)   16 Source ID (observation domain)
//
// FlowSet: FlowSet ID (2) | Length (2, includes this header and padding) | body
//   ID 0  Template FlowSet:  { Template ID (2) | Field Count (2) | { Type (2) | Length (2) } * Count } *
//   ID 1  Options Template FlowSet:
//           Template ID (2) | Option Scope Length (2, bytes) | Option Length (2, bytes)
//           | { Scope Type (2) | Scope Length (2) } * | { Option Type (2) | Option Length (2) } * | padding
//   ID 2-255 reserved;  ID >= 256 Data FlowSet: records laid out by template ID = FlowSet ID, then padding.
const HEADER = 20;

function templateSet(run: PacketRun, b: Uint8Array, start: number, end: number): void {
  let p = start;
  while (end - p >= 4) {
    const id = u16(b, p);
    const count = u16(b, p + 2);
    if (id === 0 && count === 0) return; // zero padding
    if (id < 256) {
      fail(run, 'MALFORMED', `v9 template id ${id} is below 256`, p);
      run.stats.templatesRejected++;
      return;
    }
    p += 4;
    if (count * 4 > end - p) {
      fail(run, 'MALFORMED', `v9 template ${id} announces ${count} fields beyond its flowset`, p);
      run.stats.templatesRejected++;
      return;
    }
    const fields: TemplateField[] = new Array(count);
    for (let i = 0; i < count; i++, p += 4) fields[i] = { id: u16(b, p), length: u16(b, p + 2), pen: 0 };
    learn(run, id, false, 0, fields);
  }
}

function optionsTemplateSet(run: PacketRun, b: Uint8Array, start: number, end: number): void {
  let p = start;
  while (end - p >= 6) {
    const id = u16(b, p);
    const scopeLen = u16(b, p + 2);
    const optLen = u16(b, p + 4);
    if (id === 0 && scopeLen === 0 && optLen === 0) return; // padding
    if (id < 256 || scopeLen % 4 !== 0 || optLen % 4 !== 0) {
      fail(run, 'MALFORMED', `v9 options template ${id}: bad id or lengths ${scopeLen}/${optLen}`, p);
      run.stats.templatesRejected++;
      return;
    }
    p += 6;
    if (scopeLen + optLen > end - p) {
      fail(run, 'MALFORMED', `v9 options template ${id} overruns its flowset`, p);
      run.stats.templatesRejected++;
      return;
    }
    const n = (scopeLen + optLen) / 4;
    const fields: TemplateField[] = new Array(n);
    for (let i = 0; i < n; i++, p += 4) fields[i] = { id: u16(b, p), length: u16(b, p + 2), pen: 0 };
    learn(run, id, true, scopeLen / 4, fields);
    // Options templates are padded to 4 bytes; another options template may follow.
  }
}

/** Decodes a NetFlow v9 export packet. */
export function decodeV9(b: Uint8Array, state: DecoderState, ctx: DecodeContext): PacketRun {
  const stats = createStats('packets');
  const sysUptime = u32(b, 4);
  const exportMs = u32(b, 8) * 1000;
  const seq = u32(b, 12);
  const domain = u32(b, 16);
  const session = touchSession(state, ctx.exporter, 9, domain);
  const r = createPacketRun(
    state,
    session,
    stats,
    createDataContext(state, session, ctx.receivedMs, exportMs, exportMs - sysUptime, sysUptime),
  );
  let p = HEADER;
  const len = b.length;
  while (len - p >= 4) {
    const setId = u16(b, p);
    const setLen = u16(b, p + 2);
    if (setLen < 4) {
      if (allZero(b, p, len - p)) break; // zero padding after the last flowset (Palo Alto)
      fail(r, 'MALFORMED', `v9 flowset ${setId} has length ${setLen}`, p);
      break;
    }
    let end = p + setLen;
    if (end > len) {
      fail(r, 'TRUNCATED', `v9 flowset ${setId} of ${setLen} bytes overruns the packet by ${end - len}`, p);
      end = len;
    }
    if (setId >= 256) dataSet(r, setId, b, p + 4, end);
    else if (setId === 0) templateSet(r, b, p + 4, end);
    else if (setId === 1) optionsTemplateSet(r, b, p + 4, end);
    else r.stats.reservedSets++;
    p = end;
  }
  releaseHeld(r);
  const lim = state.limits;
  observeSequence(session.seq, seq, 1, lim.reorderWindowPackets, lim.maxSequenceGap, r.stats);
  return r;
}
