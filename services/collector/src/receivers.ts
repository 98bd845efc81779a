// The sockets: UDP on every configured port (any export version) and IPFIX over TCP. They only read,
// check the exporter's admission (allowlist, blocked by the policy service) and hand each export packet to the decode shards; they never wait.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Socket as TcpSocket } from 'node:net';
import { createDeviceMatcher } from '@wardwatch/flow-schema';
import type { ShardPool } from './pool.ts';
import { VIA_TCP, VIA_UDP } from './shard.ts';

/** What the receivers report; counters are incremented by the caller's metrics. */
export interface ReceiverEvents {
  received(transport: 'udp' | 'tcp'): void;
  dropped(reason: 'not_allowed' | 'blocked' | 'decode_backlog' | 'tcp_framing'): void;
  connections(delta: number): void;
  error(err: unknown, where: string): void;
}

/** Answers whether an exporter may send; caches answers (bounded) since it runs per datagram. */
export function createAllowlist(cidrs: readonly string[]): (address: string) => boolean {
  if (cidrs.length === 0) return () => true;
  const matcher = createDeviceMatcher(cidrs);
  const cache = new Map<string, boolean>();
  return (address) => {
    let ok = cache.get(address);
    if (ok === undefined) {
      ok = matcher.isDevice(address);
      if (cache.size >= 65536) cache.clear();
      cache.set(address, ok);
    }
    return ok;
  };
}

/** `::ffff:192.0.2.1` -> `192.0.2.1`, so an exporter has one name whatever socket family it reached. */
export function normaliseAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** Binds one UDP socket with a large receive buffer; every datagram goes to its exporter's shard. */
export async function bindUdp(
  host: string,
  port: number,
  receiveBufferBytes: number,
  pool: ShardPool,
  admit: (address: string) => 'ok' | 'not_allowed' | 'blocked',
  ev: ReceiverEvents,
): Promise<Socket> {
  const socket = createSocket({
    type: host.includes(':') ? 'udp6' : 'udp4',
    recvBufferSize: receiveBufferBytes,
  });
  socket.on('message', (msg, rinfo) => {
    ev.received('udp');
    const exporter = normaliseAddress(rinfo.address);
    const admission = admit(exporter);
    if (admission !== 'ok') {
      ev.dropped(admission);
      return;
    }
    if (pool.push(exporter, msg, Date.now(), VIA_UDP) === 'backlog') ev.dropped('decode_backlog');
  });
  socket.on('error', (err) => ev.error(err, `udp:${port}`));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** Largest IPFIX message (the header's 16-bit length). */
const MAX_MESSAGE = 65535;

/**
 * Listens for IPFIX over TCP (RFC 7011 §10.4): a stream of IPFIX messages, each framed by the 16-bit
 * length in its header (version 10 at offset 0, length at offset 2). A connection from outside the
 * allowlist, or one that breaks the framing, is closed and counted.
 */
export async function listenTcp(
  host: string,
  port: number,
  pool: ShardPool,
  admit: (address: string) => 'ok' | 'not_allowed' | 'blocked',
  ev: ReceiverEvents,
): Promise<TcpListener> {
  const open = new Set<TcpSocket>();
  const server = createServer((conn: TcpSocket) => {
    const exporter = normaliseAddress(conn.remoteAddress ?? '');
    const admission = admit(exporter);
    if (admission !== 'ok') {
      ev.dropped(admission);
      conn.destroy();
      return;
    }
    ev.connections(1);
    open.add(conn);
    conn.once('close', () => {
      open.delete(conn);
      ev.connections(-1);
    });
    conn.on('error', () => conn.destroy());
    let pending: Buffer = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let off = 0;
      while (pending.length - off >= 4) {
        const version = pending.readUInt16BE(off);
        const length = pending.readUInt16BE(off + 2);
        if (version !== 10 || length < 16) {
          ev.dropped('tcp_framing');
          conn.destroy();
          pending = Buffer.alloc(0);
          return;
        }
        if (pending.length - off < length) break;
        ev.received('tcp');
        // The shard keeps no reference past decoding in inline mode and copies in worker mode.
        if (pool.push(exporter, pending.subarray(off, off + length), Date.now(), VIA_TCP) === 'backlog')
          ev.dropped('decode_backlog');
        off += length;
      }
      pending = off === 0 ? pending : Buffer.from(pending.subarray(off));
      if (pending.length > MAX_MESSAGE) {
        ev.dropped('tcp_framing');
        conn.destroy();
      }
    });
  });
  server.on('error', (err) => ev.error(err, `tcp:${port}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: () => (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of open) c.destroy();
      }),
  };
}

/** A listening IPFIX-over-TCP port. */
export interface TcpListener {
  port(): number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}
