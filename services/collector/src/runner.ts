import { DecodeShard, type ShardOutput, type ShardSettings, type Via } from './shard.ts';

/** Datagrams packed into one buffer: per datagram a 16-byte header, then its bytes. */
export interface PacketBatch {
  buffer: ArrayBuffer;
  /** Bytes used in `buffer`. */
  length: number;
  /** Exporter addresses, referenced by index from the headers. */
  exporters: string[];
}

/** Header per packed datagram: u32 length, u16 exporter index, u8 via, u8 unused, f64 receive time. */
export const PACKET_HEADER = 16;

/**
 * Drives a {@link DecodeShard} over time, the same way in a worker and inline: full batches leave after
 * each ingest, partial ones after `lingerMs`, templates within ~100 ms of a change, exporter statuses
 * every `exporterReportMs`, and held data expires by the clock.
 */
export class ShardRunner {
  readonly shard: DecodeShard;
  private readonly timer: NodeJS.Timeout;
  private lastReport = Date.now();
  private lastExpire = Date.now();
  private lastStats = Date.now();

  constructor(
    private readonly settings: ShardSettings,
    private readonly post: (out: ShardOutput) => void,
  ) {
    this.shard = new DecodeShard(settings);
    const tick = Math.max(10, Math.min(100, settings.lingerMs || 10));
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref();
  }

  /** Decodes every datagram of a packed batch. */
  ingestBatch(batch: PacketBatch): void {
    const view = new DataView(batch.buffer, 0, batch.length);
    const bytes = new Uint8Array(batch.buffer, 0, batch.length);
    let off = 0;
    while (off + PACKET_HEADER <= batch.length) {
      const len = view.getUint32(off);
      const exporter = batch.exporters[view.getUint16(off + 4)]!;
      const via = view.getUint8(off + 6) as Via;
      const receivedMs = view.getFloat64(off + 8);
      off += PACKET_HEADER;
      this.shard.ingest(bytes.subarray(off, off + len), exporter, receivedMs, via);
      off += len;
    }
    if (this.shard.hasBatches()) this.post(this.shard.take());
  }

  /** Decodes one datagram (inline mode). */
  ingest(buf: Uint8Array, exporter: string, receivedMs: number, via: Via): void {
    this.shard.ingest(buf, exporter, receivedMs, via);
    if (this.shard.hasBatches()) this.post(this.shard.take());
  }

  private tick(): void {
    const now = Date.now();
    const s = this.shard;
    if (s.lingerDue(now)) s.emitPartial();
    if (now - this.lastExpire >= 1000) {
      this.lastExpire = now;
      s.expire(now);
    }
    const templates = s.templatesChanged() ? s.syncTemplates() : [];
    let exporters: ReturnType<DecodeShard['reportExporters']> = [];
    if (now - this.lastReport >= this.settings.exporterReportMs) {
      this.lastReport = now;
      exporters = s.reportExporters(now);
    }
    // Counters go out at least every second even when nothing else does, so metrics stay current.
    if (s.hasBatches() || templates.length > 0 || exporters.length > 0 || now - this.lastStats >= 1000) {
      this.lastStats = now;
      this.post(s.take({ templates, exporters }));
    }
  }

  /** Emits everything waiting: partial batches, template changes and every exporter's status. */
  flush(): void {
    const s = this.shard;
    s.emitPartial();
    const templates = s.syncTemplates();
    const exporters = s.reportExporters(Date.now());
    this.post(s.take({ templates, exporters }));
  }

  /** Flushes and stops the timers. */
  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
