import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { TransportMessage } from './types.ts';

/** A group of messages as the buffered publisher queues it. */
export interface SpoolEntry {
  topic: string;
  messages: TransportMessage[];
  weight: number;
}

/** An entry read back, with the token that releases its disk space once it is published. */
export interface SpooledEntry extends SpoolEntry {
  token: number;
  /** Written by an earlier process (found on disk when the spool was opened). */
  inherited: boolean;
}

/**
 * A bounded FIFO of message groups on disk, behind the memory buffer of a buffered publisher: what
 * does not fit in memory while the sink is down waits here instead of being dropped, and survives a
 * restart of the process (entries left at exit are read again by the next spool on the same directory).
 */
export interface Spool {
  /** Appends an entry; false (nothing written) when it would pass the bound. */
  append(entry: SpoolEntry): boolean;
  /** The oldest entries not yet read, up to `maxBytes` of them (at least one when any is left). */
  read(maxBytes: number): SpooledEntry[];
  /** An entry read back was published: its segment file goes once all its entries are. */
  release(token: number): void;
  /** True while entries wait to be read. */
  pending(): boolean;
  /** Bytes on disk (written and not yet released). */
  bytes(): number;
  close(): void;
}

/** Options of {@link createFileSpool}. */
export interface FileSpoolOptions {
  /** Directory of the segment files (created when missing); one spool per directory. */
  dir: string;
  /** Bound on bytes on disk. */
  maxBytes: number;
  /** Size at which a segment takes no more appends and a new one starts (default 16 MiB). */
  segmentBytes?: number;
  /** A damaged segment was cut at an entry that cannot be read: `bytes` of it are skipped. */
  onCorrupt?: (path: string, bytes: number) => void;
}

interface Segment {
  path: string;
  /** Bytes written. */
  size: number;
  /** Read position. */
  offset: number;
  /** Entries read back and not yet released. */
  outstanding: number;
  /** Takes no more appends. */
  sealed: boolean;
  /** Found on disk at open. */
  inherited: boolean;
}

const NAME = /^spool-(\d{12})\.bin$/;
const nameOf = (seq: number) => `spool-${String(seq).padStart(12, '0')}.bin`;

// Entry layout (little endian): u32 length of the rest, u16 topic length, topic, f64 weight, u32 message
// count, then per message: u16 key length, key, i32 partition (-1: none), i32 value length (-1: null),
// value, u32 headers JSON length, headers JSON (length 0: none).
function encode(e: SpoolEntry): Buffer {
  const topic = Buffer.from(e.topic);
  const parts: Buffer[] = [];
  let size = 2 + topic.length + 8 + 4;
  for (const m of e.messages) {
    const key = Buffer.from(m.key);
    const headers =
      m.headers && Object.keys(m.headers).length > 0 ? Buffer.from(JSON.stringify(m.headers)) : null;
    const head = Buffer.allocUnsafe(2 + key.length + 4 + 4);
    head.writeUInt16LE(key.length, 0);
    key.copy(head, 2);
    head.writeInt32LE(m.partition ?? -1, 2 + key.length);
    head.writeInt32LE(m.value === null ? -1 : m.value.byteLength, 6 + key.length);
    parts.push(head);
    if (m.value !== null) parts.push(Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength));
    const h = Buffer.allocUnsafe(4);
    h.writeUInt32LE(headers?.length ?? 0, 0);
    parts.push(h);
    if (headers) parts.push(headers);
    size += head.length + (m.value?.byteLength ?? 0) + 4 + (headers?.length ?? 0);
  }
  const first = Buffer.allocUnsafe(4 + 2 + topic.length + 8 + 4);
  first.writeUInt32LE(size, 0);
  first.writeUInt16LE(topic.length, 4);
  topic.copy(first, 6);
  first.writeDoubleLE(e.weight, 6 + topic.length);
  first.writeUInt32LE(e.messages.length, 14 + topic.length);
  return Buffer.concat([first, ...parts]);
}

function decode(b: Buffer): SpoolEntry {
  let p = 0;
  const topicLen = b.readUInt16LE(p);
  const topic = b.toString('utf8', p + 2, p + 2 + topicLen);
  p += 2 + topicLen;
  const weight = b.readDoubleLE(p);
  const count = b.readUInt32LE(p + 8);
  p += 12;
  const messages: TransportMessage[] = [];
  for (let i = 0; i < count; i++) {
    const keyLen = b.readUInt16LE(p);
    const key = b.toString('utf8', p + 2, p + 2 + keyLen);
    p += 2 + keyLen;
    const partition = b.readInt32LE(p);
    const valueLen = b.readInt32LE(p + 4);
    p += 8;
    const value = valueLen < 0 ? null : new Uint8Array(b.subarray(p, p + valueLen));
    p += Math.max(0, valueLen);
    const headersLen = b.readUInt32LE(p);
    p += 4;
    const m: TransportMessage = { key, value };
    if (partition >= 0) m.partition = partition;
    if (headersLen > 0)
      m.headers = JSON.parse(b.toString('utf8', p, p + headersLen)) as Record<string, string>;
    p += headersLen;
    messages.push(m);
  }
  return { topic, messages, weight };
}

/**
 * A spool in segment files under `dir`: appends go to the newest segment, reads come from the oldest,
 * and a segment is deleted once every entry in it was read back and released. Segments found at start
 * (left by a previous process) are read first; a torn last entry (a crash mid-write) ends its segment.
 */
export function createFileSpool(opts: FileSpoolOptions): Spool {
  const segmentBytes = opts.segmentBytes ?? 16 << 20;
  mkdirSync(opts.dir, { recursive: true });
  const segments: Segment[] = [];
  let nextSeq = 1;
  for (const f of readdirSync(opts.dir).sort()) {
    const m = NAME.exec(f);
    if (!m) continue;
    const path = join(opts.dir, f);
    segments.push({
      path,
      size: statSync(path).size,
      offset: 0,
      outstanding: 0,
      sealed: true,
      inherited: true,
    });
    nextSeq = Number(m[1]) + 1;
  }
  let total = segments.reduce((n, g) => n + g.size, 0);
  let fd: number | undefined;
  const tokens = new Map<number, Segment>();
  let nextToken = 1;

  function writable(): Segment {
    let s = segments.at(-1);
    if (!s || s.sealed || s.size >= segmentBytes) {
      if (s) s.sealed = true;
      if (fd !== undefined) closeSync(fd);
      const path = join(opts.dir, nameOf(nextSeq++));
      s = { path, size: 0, offset: 0, outstanding: 0, sealed: false, inherited: false };
      fd = openSync(s.path, 'a');
      segments.push(s);
    }
    return s;
  }

  /** Forgets the segment's bytes past its read position (they hold no entry that can be read). */
  function cut(s: Segment): void {
    total -= s.size - s.offset;
    s.size = s.offset;
  }

  /**
   * The entry at the segment's read position (`fd`: the segment, open for reading), or undefined at its
   * end (or at a torn last entry).
   */
  function readOne(s: Segment, fd: number): SpoolEntry | undefined {
    if (s.offset + 4 > s.size) return undefined;
    const len = Buffer.allocUnsafe(4);
    readSync(fd, len, 0, 4, s.offset);
    const n = len.readUInt32LE(0);
    if (s.offset + 4 + n > s.size) return undefined;
    const body = Buffer.allocUnsafe(n);
    readSync(fd, body, 0, n, s.offset + 4);
    try {
      const e = decode(body);
      s.offset += 4 + n;
      return e;
    } catch {
      // Not an entry this code wrote (a damaged file): the rest of the segment cannot be framed.
      opts.onCorrupt?.(s.path, s.size - s.offset);
      cut(s);
      return undefined;
    }
  }

  /** Deletes a segment read to its end whose entries are all released. */
  function maybeDone(s: Segment): void {
    if (s.offset < s.size || s.outstanding > 0) return;
    if (s === segments.at(-1) && fd !== undefined) {
      closeSync(fd);
      fd = undefined;
    }
    rmSync(s.path, { force: true });
    total -= s.size;
    segments.splice(segments.indexOf(s), 1);
  }

  return {
    append(entry) {
      const buf = encode(entry);
      if (total + buf.length > opts.maxBytes) return false;
      const s = writable();
      let done = 0;
      try {
        while (done < buf.length) done += writeSync(fd!, buf, done);
      } catch {
        // Disk full or failing: undo the partial write, take no more appends in this segment (and keep
        // no empty segment file behind).
        try {
          ftruncateSync(fd!, s.size);
        } catch {}
        s.sealed = true;
        if (s.size === 0) maybeDone(s);
        return false;
      }
      s.size += buf.length;
      total += buf.length;
      return true;
    },
    read(maxBytes) {
      const out: SpooledEntry[] = [];
      let bytes = 0;
      for (const s of [...segments]) {
        let ended = true;
        if (s.offset < s.size) {
          const rfd = openSync(s.path, 'r');
          try {
            ended = false;
            while (out.length === 0 || bytes < maxBytes) {
              const at = s.offset;
              const e = readOne(s, rfd);
              if (!e) {
                ended = true;
                break;
              }
              s.outstanding++;
              const token = nextToken++;
              tokens.set(token, s);
              out.push({ ...e, token, inherited: s.inherited });
              bytes += s.offset - at;
            }
          } finally {
            closeSync(rfd);
          }
        }
        // A torn last entry (the process died mid-write): it was never accepted; forget it.
        if (ended && s.sealed && s.offset < s.size) cut(s);
        maybeDone(s);
        if (!ended) break;
      }
      return out;
    },
    release(token) {
      const s = tokens.get(token);
      if (!s) return;
      tokens.delete(token);
      s.outstanding--;
      maybeDone(s);
    },
    pending: () => segments.some((s) => s.offset < s.size),
    bytes: () => total,
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
