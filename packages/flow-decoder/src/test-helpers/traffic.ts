// Test helpers: random synthetic traffic for softflowd (frames and the pcap writer are hospital-sim's).
import { ethernetFrame, type Frame, mulberry32, type SyntheticPacket } from '@wardwatch/hospital-sim';

export type { Frame };

/**
 * Synthetic traffic: `flows` conversations (TCP with handshake and FIN, UDP, ICMP, some IPv6) with
 * a few packets each in both directions, spread over `spanMs` from `startMs`.
 */
export function generateTraffic(seed: number, flows: number, startMs: number, spanMs = 20_000): Frame[] {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const frames: Frame[] = [];
  for (let i = 0; i < flows; i++) {
    const v6 = i % 7 === 3;
    const a = v6
      ? `2001:db8:${int(1, 0xfff).toString(16)}::${int(1, 0xffff).toString(16)}`
      : `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
    const b = v6 ? `2001:db8:ffff::${int(1, 0xffff).toString(16)}` : `192.168.${int(0, 255)}.${int(1, 254)}`;
    const kind = i % 5;
    const protocol: 6 | 17 | 1 | 58 = kind < 3 ? 6 : kind === 3 ? 17 : v6 ? 58 : 1;
    const sp = int(1024, 65535);
    const dp = [443, 80, 53, 22, 3389, 8080, 5060][int(0, 6)]!;
    const t0 = startMs + int(0, spanMs - 2000);
    const n = int(2, 9);
    const tos = int(0, 3) * 8;
    for (let k = 0; k < n; k++) {
      const fwd = k % 2 === 0;
      let flags = 0x18;
      if (protocol === 6) {
        if (k === 0) flags = 0x02;
        else if (k === 1) flags = 0x12;
        else if (k === n - 1) flags = 0x11;
      }
      const spec: Omit<SyntheticPacket, 'tsMs'> = {
        src: fwd ? a : b,
        dst: fwd ? b : a,
        protocol,
        srcPort: fwd ? sp : dp,
        dstPort: fwd ? dp : sp,
        tcpFlags: flags,
        payload: int(0, 1200),
        tos,
      };
      frames.push({ tsMs: t0 + k * int(1, 300), data: ethernetFrame(spec) });
    }
  }
  frames.sort((x, y) => x.tsMs - y.tsMs);
  return frames;
}
