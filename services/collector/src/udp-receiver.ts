// The UDP receive thread: it owns the collector's UDP sockets and does nothing else but read them, check
// each datagram's exporter (allowlist, blocked) and pack it for its decode worker, posting straight to
// that worker over a port of its own. The main thread (Kafka producer, IPFIX over TCP, metrics) is off
// this path, so its work cannot leave the sockets unread while the kernel's receive buffer fills.
import type { Socket } from 'node:dgram';
import type { MessagePort } from 'node:worker_threads';
import { fnv1a } from '@wardwatch/flow-schema';
import { PacketPacker, type PushResult } from './packer.ts';
import { bindUdp, createAllowlist } from './receivers.ts';
import type { Via } from './shard.ts';

/** `workerData` of the receive thread. */
export interface UdpReceiverInput {
  role: 'udp';
  shards: number;
  allowlist: readonly string[];
  /** Bound of bytes posted to one worker and not yet decoded (shared with the main thread's packing). */
  backlogBytes: number;
  /** Counts since start (int32, wrapping), read by the main thread: see {@link UDP_COUNTS}. */
  counts: Int32Array;
}

/** Sleep after a loop turn that read fewer than {@link BURST} datagrams, milliseconds (see `pause` below). */
const PAUSE_MS = 1;
const BURST = 16;

/** Slots of {@link UdpReceiverInput.counts}. */
export const UDP_COUNTS = { received: 0, not_allowed: 1, blocked: 2, decode_backlog: 3 } as const;

/** Messages from the main thread to the receive thread. */
export type ToUdpReceiver =
  | { type: 'bind'; id: number; host: string; ports: number[]; receiveBufferBytes: number }
  /** A decode worker (re)started: pack for it on `port`; or went down (`port` undefined). */
  | { type: 'shard'; index: number; port?: MessagePort; counters?: Int32Array }
  | { type: 'blocked'; exporters: string[] }
  /** Posts what waits to each worker, then `flush` with `ids[i]` on worker i's port (answered by the worker). */
  | { type: 'flush'; ids: number[] }
  /** Closes the sockets (nothing more is read); answered with `done`. */
  | { type: 'close'; id: number };

/** Messages from the receive thread to the main thread. */
export type FromUdpReceiver =
  | { type: 'bound'; id: number; ports: number[]; error?: string }
  | { type: 'done'; id: number }
  /** A flush for worker `shard` that could not be forwarded (the worker is down). */
  | { type: 'skipped'; shard: number; id: number }
  | { type: 'error'; where: string; message: string }
  | { type: 'thread'; tid: number };

/** Runs the receive thread on `parent` (its `parentPort`). */
export function runUdpReceiver(parent: MessagePort, input: UdpReceiverInput, tid: number | undefined): void {
  if (tid !== undefined) parent.postMessage({ type: 'thread', tid } satisfies FromUdpReceiver);
  const { counts } = input;
  const n = input.shards;
  const packers = Array.from({ length: n }, () => new PacketPacker(1, input.backlogBytes));
  const ports: (MessagePort | undefined)[] = new Array(n).fill(undefined);
  const inList = createAllowlist(input.allowlist);
  let blocked = new Set<string>();
  const sockets: Socket[] = [];

  // Read in bursts: after a loop turn that read only a few datagrams the thread sleeps PAUSE_MS, so the
  // next turn finds several waiting instead of waking, with a context switch and four system calls, for
  // every datagram. A turn that read BURST or more does not sleep: libuv reads at most 32 datagrams per
  // socket and turn, so sleeping after full turns would cap the rate (~30 k datagrams/s, measured).
  // No sleep while the sockets are quiet (no turn reads); the buffer holds far more than a millisecond.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let pausing = false;
  let turn = 0;
  const pause = () => {
    pausing = false;
    const read = turn;
    turn = 0;
    if (read < BURST) Atomics.wait(sleeper, 0, 0, PAUSE_MS);
  };
  const sink = {
    push(exporter: string, buf: Uint8Array, receivedMs: number, via: Via): PushResult {
      return packers[n === 1 ? 0 : fnv1a(exporter) % n]!.push(exporter, buf, receivedMs, via);
    },
  };
  const admit = (exporter: string) =>
    blocked.has(exporter) ? 'blocked' : inList(exporter) ? 'ok' : 'not_allowed';
  const events = {
    received: () => {
      Atomics.add(counts, UDP_COUNTS.received, 1);
      turn++;
      if (!pausing) {
        pausing = true;
        setImmediate(pause);
      }
    },
    dropped: (reason: 'not_allowed' | 'blocked' | 'decode_backlog' | 'tcp_framing') => {
      if (reason !== 'tcp_framing') Atomics.add(counts, UDP_COUNTS[reason], 1);
    },
    connections: () => {},
    connectionClosed: () => {},
    error: (err: unknown, where: string) =>
      parent.postMessage({
        type: 'error',
        where,
        message: err instanceof Error ? err.message : String(err),
      } satisfies FromUdpReceiver),
  };

  parent.on('message', async (msg: ToUdpReceiver) => {
    switch (msg.type) {
      case 'bind': {
        const bound: number[] = [];
        try {
          for (const port of msg.ports) {
            const s = await bindUdp(msg.host, port, msg.receiveBufferBytes, sink, admit, events);
            sockets.push(s);
            bound.push(s.address().port);
          }
          parent.postMessage({ type: 'bound', id: msg.id, ports: bound } satisfies FromUdpReceiver);
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          parent.postMessage({ type: 'bound', id: msg.id, ports: bound, error } satisfies FromUdpReceiver);
        }
        break;
      }
      case 'shard': {
        const packer = packers[msg.index]!;
        ports[msg.index]?.close();
        ports[msg.index] = msg.port;
        if (msg.port === undefined || msg.counters === undefined) {
          packer.detach();
          break;
        }
        packer.attach(msg.port, msg.counters);
        msg.port.on('message', (m: { type: 'recycle'; buffer: ArrayBuffer }) => packer.recycle(m.buffer));
        break;
      }
      case 'blocked':
        blocked = new Set(msg.exporters);
        break;
      case 'flush':
        for (let i = 0; i < n; i++) {
          const port = ports[i];
          if (port === undefined || !packers[i]!.attached()) {
            parent.postMessage({ type: 'skipped', shard: i, id: msg.ids[i]! } satisfies FromUdpReceiver);
            continue;
          }
          packers[i]!.send();
          port.postMessage({ type: 'flush', id: msg.ids[i]! });
        }
        break;
      case 'close':
        await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
        sockets.length = 0;
        for (const p of packers) p.stop();
        parent.postMessage({ type: 'done', id: msg.id } satisfies FromUdpReceiver);
        break;
    }
  });
}
