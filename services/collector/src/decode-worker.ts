// Entry of the collector's worker threads. A decode worker owns one DecodeShard and takes packed datagrams
// from the main thread (IPFIX over TCP) and from the UDP receive thread (over a port of their own); the
// UDP receive thread (`role: 'udp'`, udp-receiver.ts) runs from the same script.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { PacketsMessage } from './packer.ts';
import { ShardRunner } from './runner.ts';
import type { ShardOutput, ShardSettings } from './shard.ts';
import { currentThreadId } from './thread-cpu.ts';
import { runUdpReceiver, type UdpReceiverInput } from './udp-receiver.ts';

/** Messages from the main thread to a decode worker. */
export type ToWorker =
  | PacketsMessage
  | { type: 'import'; entries: { key: string; text: string }[]; id: number }
  | { type: 'flush'; id: number }
  | { type: 'stop'; id: number }
  /** The port the UDP receive thread packs to (a new one when that thread was started again). */
  | { type: 'receiver'; port: MessagePort };

/** Messages from a decode worker to the main thread. */
export type FromWorker =
  | { type: 'output'; output: ShardOutput }
  /** A packing buffer, decoded, handed back for reuse (the decoder keeps no view of it: it copies). */
  | { type: 'recycle'; buffer: ArrayBuffer }
  | { type: 'done'; id: number; result?: { imported: number; rejected: number } }
  /** The worker's kernel thread id, sent once at start (its CPU time is read from /proc by that id). */
  | { type: 'thread'; tid: number };

/** A decode worker's `workerData`. */
export interface WorkerInput {
  role: 'decode';
  settings: ShardSettings;
  /** Bytes posted by each source and decoded of each (packer.ts: int32 counters that wrap). */
  counters: Int32Array;
}

const port = parentPort;
const tid = currentThreadId();
if (port && (workerData as { role?: string }).role === 'udp') {
  runUdpReceiver(port, workerData as UdpReceiverInput, tid);
} else if (port) {
  const { settings, counters } = workerData as WorkerInput;
  if (tid !== undefined) port.postMessage({ type: 'thread', tid } satisfies FromWorker);
  const runner = new ShardRunner(settings, (output) => {
    const transfer: ArrayBuffer[] = [];
    for (const b of output.batches) {
      const buf = b.value.buffer as ArrayBuffer;
      if (b.value.byteOffset === 0 && b.value.byteLength === buf.byteLength) transfer.push(buf);
    }
    port.postMessage({ type: 'output', output } satisfies FromWorker, transfer);
  });
  /** Decodes a packed batch, counts it decoded for its source's bound and hands the buffer back. */
  const packets = (msg: PacketsMessage, from: MessagePort) => {
    runner.ingestBatch(msg);
    Atomics.add(counters, 2 + msg.source, msg.length);
    from.postMessage({ type: 'recycle', buffer: msg.buffer } satisfies FromWorker, [msg.buffer]);
  };
  let receiver: MessagePort | undefined;
  port.on('message', (msg: ToWorker) => {
    switch (msg.type) {
      case 'packets':
        packets(msg, port);
        break;
      case 'receiver': {
        receiver?.close();
        const from = msg.port;
        receiver = from;
        // Packets and flushes from the receive thread come in order on its own port; a flush is
        // answered to the main thread, after every packet posted before it was decoded.
        from.on('message', (m: PacketsMessage | { type: 'flush'; id: number }) => {
          if (m.type === 'packets') packets(m, from);
          else {
            runner.flush();
            port.postMessage({ type: 'done', id: m.id } satisfies FromWorker);
          }
        });
        break;
      }
      case 'import': {
        const result = runner.shard.importTemplates(msg.entries);
        port.postMessage({ type: 'done', id: msg.id, result } satisfies FromWorker);
        break;
      }
      case 'flush':
        runner.flush();
        port.postMessage({ type: 'done', id: msg.id } satisfies FromWorker);
        break;
      case 'stop':
        runner.stop();
        port.postMessage({ type: 'done', id: msg.id } satisfies FromWorker);
        receiver?.close();
        port.close();
        break;
    }
  });
}
