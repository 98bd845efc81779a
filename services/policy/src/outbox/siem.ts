import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as connectTls } from 'node:tls';
import type { Logger } from '@wardwatch/telemetry';
import type pg from 'pg';
import type { PolicyMetrics } from '../metrics.ts';
import { type CefAlert, formatCef, syslogLine } from './cef.ts';
import { advanceOutbox, outboxPosition, readOutbox } from './cursor.ts';
import { createPoller } from './poller.ts';

/**
 * Where alerts go: a syslog receiver over UDP (one message per datagram), TCP (LF-framed, RFC 6587) or
 * TLS (the same framing inside TLS, the receiver's certificate verified against `caFile` or the system CAs).
 */
export interface SiemOptions {
  host: string;
  port: number;
  protocol: 'udp' | 'tcp' | 'tls';
  /** CA certificate(s), PEM (TLS). */
  caFile?: string;
  /** Longest a connect, handshake or write may take, and a connection may idle, milliseconds. */
  timeoutMs: number;
  pollIntervalMs: number;
}

/** A SIEM socket operation that took longer than `timeoutMs`. */
export class SiemTimeoutError extends Error {
  readonly code = 'SIEM_TIMEOUT';
  constructor(what: string, ms: number) {
    super(`SIEM ${what} took longer than ${ms} ms`);
  }
}

const TYPES = ['alert.opened', 'alert.updated', 'policy.violated'];

/**
 * Forwards alert events from the outbox as CEF over syslog. Its position in the outbox is stored
 * (outbox_cursors 'siem') and advanced only after a successful send, so a restart resumes where it left
 * off (at least once; UDP gives no delivery guarantee beyond the local send).
 */
export function createSiemForwarder(deps: {
  pool: pg.Pool;
  logger: Logger;
  metrics: PolicyMetrics;
  options: SiemOptions;
}) {
  const { pool, logger, metrics, options } = deps;
  const me = hostname();
  let udp: UdpSocket | undefined;
  let tcp: Socket | undefined;

  // Read once: a CA file that cannot be read is a start-up error, not a retry loop.
  const ca = options.caFile ? readFileSync(options.caFile) : undefined;

  /**
   * The stream socket, connected (and for TLS, handshaken and verified) within `timeoutMs`. A socket
   * idle for `timeoutMs` (a stalled write included: the peer stopped reading) is destroyed, so a write
   * waiting on it fails and the round is retried on a new connection.
   */
  async function tcpSocket(): Promise<Socket> {
    if (tcp && !tcp.destroyed) return tcp;
    const s =
      options.protocol === 'tls'
        ? connectTls({
            host: options.host,
            port: options.port,
            ...(ca ? { ca } : {}),
            ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
          })
        : connectTcp({ host: options.host, port: options.port });
    s.setTimeout(options.timeoutMs, () => s.destroy(new SiemTimeoutError('connection', options.timeoutMs)));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.once(options.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
        s.off('error', reject);
        resolve();
      });
    });
    s.on('error', () => s.destroy());
    s.setKeepAlive(true);
    tcp = s;
    return s;
  }

  async function send(line: string): Promise<void> {
    if (options.protocol === 'udp') {
      udp ??= createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) =>
        udp!.send(Buffer.from(line, 'utf8'), options.port, options.host, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      return;
    }
    const s = await tcpSocket();
    await new Promise<void>((resolve, reject) => {
      // A write still buffered when the socket is destroyed (idle timeout, reset) fails here.
      const onClose = () => reject(new Error('SIEM connection closed before the write completed'));
      s.once('close', onClose);
      s.write(`${line}\n`, (err) => {
        s.off('close', onClose);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  async function round(): Promise<number> {
    const from = await outboxPosition(pool, 'siem');
    const events = await readOutbox<{ alert?: CefAlert }>(pool, from, 200);
    let last: number | undefined;
    let sent = 0;
    try {
      for (const e of events) {
        if (TYPES.includes(e.type) && e.payload.alert) {
          const a = e.payload.alert;
          await send(syslogLine(formatCef(e.type, a), a.severity, me));
          sent++;
          metrics.siemSent.inc();
        }
        last = e.seq;
      }
    } finally {
      if (last !== undefined) await advanceOutbox(pool, 'siem', last);
    }
    return sent + (events.length > 0 ? 1 : 0);
  }

  const poller = createPoller(round, options.pollIntervalMs, (err) => {
    metrics.siemErrors.inc();
    logger.warn({ err: (err as Error).message }, 'SIEM forwarding failed; retrying');
    tcp?.destroy();
    tcp = undefined;
  });

  return {
    round,
    start: poller.start,
    async stop() {
      await poller.stop();
      udp?.close();
      tcp?.end();
      tcp?.destroy();
    },
  };
}
