import { u16, u32 } from '../bytes.ts';
import { allZero } from '../format.ts';
import type { TemplateField } from '../plan.ts';
import { createStats, type DecodeContext } from '../result.ts';
import { observeSequence, resyncSequence } from '../sequence.ts';
import {
  createDataContext,
  createPacketRun,
  dataSet,
  fail,
  learn,
  type PacketRun,
  releaseHeld,
} from '../sets.ts';
import { type DecoderState, touchSession, withdrawTemplates } from '../state.ts';

// IPFIX (RFC 7011), all fields big-endian.
//
// Message header (16 bytes)
//   0 Version (10)   2 Length (whole message, bytes)   4 Export Time (s)
//   8 Sequence Number (data records sent before this message, per observation domain, mod 2^32)
//  12 Observation Domain ID
//
// Set header: Set ID (2) | Length (2, includes header and padding)
//   ID 2  Template Set:          { Template ID (2, >= 256) | Field Count (2) | Field Specifier * }
//   ID 3  Options Template Set:  { Template ID | Field Count | Scope Field Count (2, >= 1) | Field Specifier * }
//   Field Specifier: E (1 bit) | IE id (15) | Field Length (2; 65535 = variable) | [Enterprise Number (4) if E]
//   Withdrawal: Field Count 0 (no scope count); Template ID = Set ID (2 or 3) withdraws all of that kind.
//   ID >= 256 Data Set; 0, 1 and 4-255 reserved.
//   Variable-length value: Length (1) | value, or 255 | Length (2) | value.
const HEADER = 16;

function templateSet(run: PacketRun, setId: number, b: Uint8Array, start: number, end: number): void {
  const options = setId === 3;
  let p = start;
  while (end - p >= 4) {
    const id = u16(b, p);
    const count = u16(b, p + 2);
    if (id === 0 && count === 0) return; // set padding
    p += 4;
    if (count === 0) {
      if (id === setId) {
        run.withdrawn ??= [];
        run.stats.templatesWithdrawn += withdrawTemplates(
          run.state,
          run.session,
          (t) => t.options === options,
          run.withdrawn,
        );
      } else if (id >= 256) {
        const t = run.session.templates.get(id);
        if (t !== undefined) {
          run.withdrawn ??= [];
          run.stats.templatesWithdrawn += withdrawTemplates(
            run.state,
            run.session,
            (x) => x.id === id,
            run.withdrawn,
          );
        }
      } else fail(run, 'MALFORMED', `withdrawal of reserved template id ${id}`, p - 4);
      continue;
    }
    let scopeCount = 0;
    if (options) {
      if (end - p < 2) {
        fail(run, 'MALFORMED', `options template ${id} lacks its scope field count`, p);
        run.stats.templatesRejected++;
        return;
      }
      scopeCount = u16(b, p);
      p += 2;
      if (scopeCount === 0 || scopeCount > count) {
        fail(run, 'MALFORMED', `options template ${id}: scope field count ${scopeCount} of ${count}`, p - 2);
        run.stats.templatesRejected++;
        return;
      }
    }
    if (id < 256) {
      fail(run, 'MALFORMED', `template id ${id} is below 256`, p - 4);
      run.stats.templatesRejected++;
      return;
    }
    const fields: TemplateField[] = new Array(count);
    for (let i = 0; i < count; i++) {
      if (end - p < 4) {
        fail(run, 'MALFORMED', `template ${id} announces ${count} fields beyond its set`, p);
        run.stats.templatesRejected++;
        return;
      }
      const raw = u16(b, p);
      const length = u16(b, p + 2);
      p += 4;
      let pen = 0;
      if (raw & 0x8000) {
        if (end - p < 4) {
          fail(run, 'MALFORMED', `template ${id}: enterprise number beyond its set`, p);
          run.stats.templatesRejected++;
          return;
        }
        pen = u32(b, p);
        p += 4;
      }
      fields[i] = { id: raw & 0x7fff, length, pen };
    }
    learn(run, id, options, scopeCount, fields);
  }
}

/** Decodes one IPFIX message (the first in `b`; bytes past its Length are ignored). */
export function decodeIpfix(b: Uint8Array, state: DecoderState, ctx: DecodeContext): PacketRun {
  const stats = createStats('records');
  const msgLen = u16(b, 2);
  const exportMs = u32(b, 4) * 1000;
  const seq = u32(b, 8);
  const domain = u32(b, 12);
  const session = touchSession(state, ctx.exporter, 10, domain);
  const r = createPacketRun(
    state,
    session,
    stats,
    createDataContext(state, session, ctx.receivedMs, exportMs, session.sysInitMs, -1),
  );
  let len = b.length;
  if (msgLen < HEADER) {
    fail(r, 'MALFORMED', `IPFIX message length ${msgLen} is shorter than its header`, 2);
    return r;
  }
  if (msgLen > len) fail(r, 'TRUNCATED', `IPFIX message announces ${msgLen} bytes, packet holds ${len}`, 2);
  else len = msgLen;
  let p = HEADER;
  while (len - p >= 4) {
    const setId = u16(b, p);
    const setLen = u16(b, p + 2);
    if (setLen < 4) {
      if (allZero(b, p, len - p)) break;
      fail(r, 'MALFORMED', `set ${setId} has length ${setLen}`, p);
      break;
    }
    let end = p + setLen;
    if (end > len) {
      fail(r, 'TRUNCATED', `set ${setId} of ${setLen} bytes overruns the message by ${end - len}`, p);
      end = len;
    }
    if (setId >= 256) dataSet(r, setId, b, p + 4, end);
    else if (setId === 2 || setId === 3) templateSet(r, setId, b, p + 4, end);
    else r.stats.reservedSets++;
    p = end;
  }
  if (len - p > 0 && r.error === undefined && !allZero(b, p, len - p)) {
    fail(r, 'MALFORMED', `${len - p} stray bytes after the last set`, p);
  }
  releaseHeld(r);
  const lim = state.limits;
  observeSequence(session.seq, seq, r.dataRecords, lim.reorderWindowRecords, lim.maxSequenceGap, r.stats);
  // Without a template we cannot know how many records a held set holds, so the next expected
  // sequence number is unknown: resynchronise on the next message instead of reporting false loss.
  if (r.stats.unknownTemplateSets > 0) resyncSequence(session.seq, r.stats);
  return r;
}
