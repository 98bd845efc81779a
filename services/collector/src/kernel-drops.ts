import { readFileSync } from 'node:fs';

/** Kernel counters of one bound UDP socket, from /proc/net/udp{,6}. */
export interface UdpSocketCounters {
  port: number;
  /** Datagrams the kernel dropped for this socket (receive buffer full), since it was opened. */
  drops: number;
  /** Bytes waiting in the receive queue now. */
  rxQueue: number;
}

/**
 * Parses /proc/net/udp (or udp6) text: `sl local_address rem_address st tx_queue:rx_queue ... drops`,
 * addresses as hex `ADDR:PORT`. Returns one entry per local port in `ports` (summed if several sockets
 * share a port, e.g. SO_REUSEPORT).
 */
export function parseProcNetUdp(text: string, ports: ReadonlySet<number>): Map<number, UdpSocketCounters> {
  const out = new Map<number, UdpSocketCounters>();
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = Number.parseInt(f[1]!.split(':')[1] ?? '', 16);
    if (!ports.has(port)) continue;
    const rxQueue = Number.parseInt(f[4]!.split(':')[1] ?? '0', 16);
    const drops = Number(f[f.length - 1]);
    const prev = out.get(port) ?? { port, drops: 0, rxQueue: 0 };
    prev.drops += Number.isFinite(drops) ? drops : 0;
    prev.rxQueue += Number.isFinite(rxQueue) ? rxQueue : 0;
    out.set(port, prev);
  }
  return out;
}

/** Reads the kernel counters of our UDP ports; empty where /proc is not Linux's. */
export function readUdpCounters(ports: ReadonlySet<number>): Map<number, UdpSocketCounters> {
  const merged = new Map<number, UdpSocketCounters>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const [port, c] of parseProcNetUdp(text, ports)) {
      const prev = merged.get(port);
      if (prev) {
        prev.drops += c.drops;
        prev.rxQueue += c.rxQueue;
      } else merged.set(port, c);
    }
  }
  return merged;
}
