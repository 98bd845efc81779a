// Entry of a decode worker thread: owns one DecodeShard and talks to the receive thread by messages.
import { parentPort, workerData } from 'node:worker_threads';
import { type PacketBatch, ShardRunner } from './runner.ts';
import type { ShardOutput, ShardSettings } from './shard.ts';
import { currentThreadId } from './thread-cpu.ts';

/** Messages from the receive thread to a worker. */
export type ToWorker =
  | ({ type: 'packets' } & PacketBatch)
  | { type: 'import'; entries: { key: string; text: string }[]; id: number }
  | { type: 'flush'; id: number }
  | { type: 'stop'; id: number };

/** Messages from a worker to the receive thread. */
export type FromWorker =
  | { type: 'output'; output: ShardOutput }
  /** A packing buffer, decoded, handed back for reuse (the decoder keeps no view of it: it copies). */
  | { type: 'recycle'; buffer: ArrayBuffer }
  | { type: 'done'; id: number; result?: { imported: number; rejected: number } }
  /** The worker's kernel thread id, sent once at start (its CPU time is read from /proc by that id). */
  | { type: 'thread'; tid: number };

/** A worker's `workerData`. */
export interface WorkerInput {
  settings: ShardSettings;
  /** Bytes of packed datagrams decoded so far (an int32 that wraps), read by the receive thread's bound. */
  decoded: Int32Array;
}

const port = parentPort;
if (port) {
  const { settings, decoded } = workerData as WorkerInput;
  const tid = currentThreadId();
  if (tid !== undefined) port.postMessage({ type: 'thread', tid } satisfies FromWorker);
  const runner = new ShardRunner(settings, (output) => {
    const transfer: ArrayBuffer[] = [];
    for (const b of output.batches) {
      const buf = b.value.buffer as ArrayBuffer;
      if (b.value.byteOffset === 0 && b.value.byteLength === buf.byteLength) transfer.push(buf);
    }
    port.postMessage({ type: 'output', output } satisfies FromWorker, transfer);
  });
  port.on('message', (msg: ToWorker) => {
    switch (msg.type) {
      case 'packets':
        runner.ingestBatch(msg);
        // Consumed: the receive thread's backlog bound counts bytes posted and not yet decoded.
        Atomics.add(decoded, 0, msg.length);
        port.postMessage({ type: 'recycle', buffer: msg.buffer } satisfies FromWorker, [msg.buffer]);
        break;
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
        port.close();
        break;
    }
  });
}
