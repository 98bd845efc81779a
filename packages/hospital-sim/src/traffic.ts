import type { SyntheticPacket } from './pcap.ts';

// Packet builders: what a conversation looks like on the wire, as the synthetic pcap writer takes it.

/** TCP flag bytes. */
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

/** One UDP datagram. */
export function udp(
  out: SyntheticPacket[],
  t: number,
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  payload: number,
): void {
  out.push({ tsMs: t, src, dst, protocol: 17, srcPort, dstPort, payload });
}

/** One TCP segment. */
export function tcp(
  out: SyntheticPacket[],
  t: number,
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  tcpFlags: number,
  payload = 0,
): void {
  out.push({ tsMs: t, src, dst, protocol: 6, srcPort, dstPort, tcpFlags, payload });
}

/** Shape of a short request/response TCP conversation. */
export interface SessionShape {
  /** Request segments and their payload bytes. */
  requests: number;
  requestBytes: number;
  /** Response segments and their payload bytes. */
  responses: number;
  responseBytes: number;
  /** Time between segments, ms. */
  stepMs?: number;
}

/** A complete TCP conversation: handshake, requests and responses, and a FIN from each side. */
export function tcpSession(
  out: SyntheticPacket[],
  t: number,
  client: string,
  server: string,
  clientPort: number,
  serverPort: number,
  shape: SessionShape,
): number {
  const step = shape.stepMs ?? 5;
  let at = t;
  const c = (flags: number, payload = 0) => {
    tcp(out, at, client, server, clientPort, serverPort, flags, payload);
    at += step;
  };
  const s = (flags: number, payload = 0) => {
    tcp(out, at, server, client, serverPort, clientPort, flags, payload);
    at += step;
  };
  c(SYN);
  s(SYN | ACK);
  c(ACK);
  const rounds = Math.max(shape.requests, shape.responses);
  for (let i = 0; i < rounds; i++) {
    if (i < shape.requests) c(PSH | ACK, shape.requestBytes);
    if (i < shape.responses) s(PSH | ACK, shape.responseBytes);
  }
  c(FIN | ACK);
  s(FIN | ACK);
  c(ACK);
  return at;
}

/** A bulk transfer on an established connection: data one way, an ACK back every `ackEvery` segments. */
export function bulk(
  out: SyntheticPacket[],
  t: number,
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  segments: number,
  payload: number,
  opts: { ackEvery?: number; stepMs?: number; handshake?: boolean } = {},
): number {
  const step = opts.stepMs ?? 2;
  const ackEvery = opts.ackEvery ?? 8;
  let at = t;
  if (opts.handshake ?? true) {
    tcp(out, at, src, dst, srcPort, dstPort, SYN);
    tcp(out, at + 1, dst, src, dstPort, srcPort, SYN | ACK);
    tcp(out, at + 2, src, dst, srcPort, dstPort, ACK);
    at += 3;
  }
  for (let i = 0; i < segments; i++) {
    tcp(out, at, src, dst, srcPort, dstPort, PSH | ACK, payload);
    if ((i + 1) % ackEvery === 0) tcp(out, at + 1, dst, src, dstPort, srcPort, ACK);
    at += step;
  }
  tcp(out, at, src, dst, srcPort, dstPort, FIN | ACK);
  tcp(out, at + 1, dst, src, dstPort, srcPort, FIN | ACK);
  return at + 2;
}

/** An ephemeral (client) port, deterministic in `n`. */
export function ephemeral(n: number): number {
  return 49152 + (Math.abs(Math.floor(n)) % 16000);
}
