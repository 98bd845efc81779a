// IPFIX over TCP (RFC 7011 §10.4) is a stream of IPFIX messages, each framed by its header:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |       Version Number (10)     |            Length             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Reads arrive cut anywhere. The framer keeps the reads as they came and copies only a message that
// spans reads, once, into a buffer of its length: every byte received is copied at most once, so a
// client trickling a message byte by byte costs linear time (joining the pending bytes on every read,
// as before, cost O(n²) for a 64 KiB message).

/** Smallest IPFIX message: the 16-byte header. */
const MIN_MESSAGE = 16;

/** Outcome of {@link IpfixStreamFramer.push}: `framing` when the stream is not IPFIX (close it). */
export type FramingResult = 'ok' | 'framing';

/** Splits one connection's byte stream into IPFIX messages. */
export class IpfixStreamFramer {
  private chunks: Buffer[] = [];
  /** Index of the first chunk still holding unread bytes, and the offset of those bytes in it. */
  private first = 0;
  private offset = 0;
  private queued = 0;
  /** Bytes copied to join messages that spanned reads (never more than the bytes received). */
  copiedBytes = 0;

  /** Bytes received and not yet part of a whole message (always below 64 KiB). */
  pending(): number {
    return this.queued;
  }

  /**
   * Takes one read and hands every message it completes to `onMessage` (a view that is valid until
   * `onMessage` returns; copy to keep it).
   */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): FramingResult {
    if (chunk.length === 0) return 'ok';
    this.chunks.push(chunk);
    this.queued += chunk.length;
    while (this.queued >= 4) {
      const version = (this.byteAt(0) << 8) | this.byteAt(1);
      const length = (this.byteAt(2) << 8) | this.byteAt(3);
      if (version !== 10 || length < MIN_MESSAGE) {
        this.reset();
        return 'framing';
      }
      if (this.queued < length) break;
      onMessage(this.take(length));
    }
    return 'ok';
  }

  /** The byte `i` bytes past the read position (only for the 4 header bytes: walks at most 4 chunks). */
  private byteAt(i: number): number {
    let c = this.first;
    let o = this.offset + i;
    while (o >= this.chunks[c]!.length) {
      o -= this.chunks[c]!.length;
      c++;
    }
    return this.chunks[c]![o]!;
  }

  /** Removes the next `n` (<= queued) bytes: a view when they lie in one read, else one copy. */
  private take(n: number): Buffer {
    const head = this.chunks[this.first]!;
    let out: Buffer;
    if (head.length - this.offset >= n) {
      out = head.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === head.length) this.advance();
    } else {
      out = Buffer.allocUnsafe(n);
      let w = 0;
      while (w < n) {
        const c = this.chunks[this.first]!;
        const k = Math.min(n - w, c.length - this.offset);
        c.copy(out, w, this.offset, this.offset + k);
        w += k;
        this.offset += k;
        if (this.offset === c.length) this.advance();
      }
      this.copiedBytes += n;
    }
    this.queued -= n;
    return out;
  }

  /** Moves past a consumed chunk; the array is compacted now and then, never shifted per chunk. */
  private advance(): void {
    this.first++;
    this.offset = 0;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  private reset(): void {
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.queued = 0;
  }
}
