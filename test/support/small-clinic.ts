import { ipLength, type SyntheticPacket } from '@wardwatch/testkit';

/** A small clinic's traffic and what the inventory must show for it. */
export interface Scenario {
  packets: SyntheticPacket[];
  /** Devices (internal addresses that sent traffic) -> IP bytes they sent. */
  bytesSent: Map<string, number>;
  /** Internal addresses that only received traffic: never devices. */
  receiveOnly: string[];
}

/**
 * Builds a few minutes of a small clinic: infusion pumps talking to their server, a PACS serving a
 * modality over DICOM, a workstation browsing outside, an external host answering, and a port-scan
 * target that never answers. Times start `startMs` and advance 10 ms per packet.
 */
export function smallClinic(startMs = Date.now() - 5 * 60_000): Scenario {
  const packets: SyntheticPacket[] = [];
  let t = startMs;
  const add = (p: Omit<SyntheticPacket, 'tsMs'>, times = 1) => {
    for (let i = 0; i < times; i++) {
      packets.push({ ...p, tsMs: t });
      t += 10;
    }
  };
  const pumpServer = '10.20.0.10';
  for (let i = 1; i <= 4; i++) {
    const pump = `10.20.1.${i}`;
    add({ src: pump, dst: pumpServer, protocol: 6, srcPort: 40000 + i, dstPort: 443, payload: 200 + i }, 3);
    add({ src: pumpServer, dst: pump, protocol: 6, srcPort: 443, dstPort: 40000 + i, payload: 90 }, 2);
  }
  const pacs = '192.168.50.5';
  const modality = '192.168.50.20';
  add({ src: modality, dst: pacs, protocol: 6, srcPort: 51515, dstPort: 104, payload: 1400 }, 20);
  add({ src: pacs, dst: modality, protocol: 6, srcPort: 104, dstPort: 51515, payload: 0 }, 10);
  const workstation = '172.16.3.7';
  const web = '198.51.100.80';
  add({ src: workstation, dst: web, protocol: 6, srcPort: 55000, dstPort: 443, payload: 500 }, 5);
  add({ src: web, dst: workstation, protocol: 6, srcPort: 443, dstPort: 55000, payload: 1300 }, 8);
  add({ src: workstation, dst: '10.20.0.53', protocol: 17, srcPort: 53000, dstPort: 53, payload: 40 });
  // A scan target: receives SYNs, never answers.
  const target = '10.20.9.9';
  for (const port of [22, 23, 80, 443, 3389]) {
    add({ src: workstation, dst: target, protocol: 6, srcPort: 60000, dstPort: port, tcpFlags: 0x02 });
  }

  const bytesSent = new Map<string, number>();
  for (const p of packets) {
    if (p.src === web) continue;
    bytesSent.set(p.src, (bytesSent.get(p.src) ?? 0) + ipLength(p));
  }
  return { packets, bytesSent, receiveOnly: [target, '10.20.0.53'] };
}
