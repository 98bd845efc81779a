// The sockets: UDP on every configured port (any export version) and IPFIX over TCP. They only read,
// check the exporter's admission (allowlist, blocked by the policy service) and hand each export packet to
// the decode shards; they never wait. With decode workers, the UDP sockets live on their own thread
// (udp-receiver.ts) and TCP stays on the main thread; without, both run on the main thread.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Socket as TcpSocket } from 'node:net';
import { createDeviceMatcher } from '@wardwatch/flow-schema';
import type { ShardPool } from './pool.ts';
import { VIA_TCP, VIA_UDP } from './shard.ts';
import { IpfixStreamFramer } from './tcp-framing.ts';

/** What the receivers report; counters are incremented by the caller's metrics. */
export interface ReceiverEvents {
  received(transport: 'udp' | 'tcp'): void;
  dropped(reason: 'not_allowed' | 'blocked' | 'decode_backlog' | 'tcp_framing'): void;
  connections(delta: number): void;
  /** A TCP connection refused (over `tcpMaxConnections`) or closed for silence (`tcpIdleTimeoutMs`). */
  connectionClosed(reason: 'limit' | 'idle'): void;
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
  sink: Pick<ShardPool, 'push'>,
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
    if (sink.push(exporter, msg, Date.now(), VIA_UDP) === 'backlog') ev.dropped('decode_backlog');
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

/** Limits shared by every IPFIX-over-TCP port of a collector. */
export interface TcpLimits {
  /** Open connections at most, over all ports; further ones are closed at once and counted. */
  maxConnections: number;
  /** A connection silent this long is closed and counted, milliseconds. */
  idleTimeoutMs: number;
  /** Open connections now, over all ports (shared by the listeners). */
  open: { count: number };
}

/**
 * Listens for IPFIX over TCP (RFC 7011 §10.4), framed by {@link IpfixStreamFramer}. A connection from
 * outside the allowlist, one over the connection cap, one that breaks the framing and one silent past
 * the idle timeout are closed and counted.
 */
export async function listenTcp(
  host: string,
  port: number,
  pool: ShardPool,
  admit: (address: string) => 'ok' | 'not_allowed' | 'blocked',
  ev: ReceiverEvents,
  limits: TcpLimits,
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
    if (limits.open.count >= limits.maxConnections) {
      ev.connectionClosed('limit');
      conn.destroy();
      return;
    }
    limits.open.count++;
    ev.connections(1);
    open.add(conn);
    conn.once('close', () => {
      open.delete(conn);
      limits.open.count--;
      ev.connections(-1);
    });
    conn.on('error', () => conn.destroy());
    conn.setTimeout(limits.idleTimeoutMs, () => {
      ev.connectionClosed('idle');
      conn.destroy();
    });
    const framer = new IpfixStreamFramer();
    // The shard keeps no reference past decoding in inline mode and copies in worker mode.
    const onMessage = (m: Buffer) => {
      ev.received('tcp');
      if (pool.push(exporter, m, Date.now(), VIA_TCP) === 'backlog') ev.dropped('decode_backlog');
    };
    conn.on('data', (chunk: Buffer) => {
      if (framer.push(chunk, onMessage) === 'framing') {
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
