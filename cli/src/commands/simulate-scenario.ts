// The simulator's scenario adapter: what `wardwatch simulate` asks of a hospital model. Two models sit
// behind it: packages/hospital-sim (the analytics scenario: device classes with schedules, injected attacks,
// replayed in flow time at a chosen speed) and a small built-in "load" hospital that scales to many devices
// and paces its background traffic to a chosen record rate (demos of throughput, benchmarks).
import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { createScenario, mulberry32 } from '@wardwatch/hospital-sim';

/** One simulated device and what Wardwatch should conclude about it. */
export interface SimDevice {
  ip: string;
  /** The class an operator would give it (what the classifier should infer). */
  expectedClass: string;
  mac?: string;
  vlan?: number;
}

/** An attack the scenario injects, and the alert kind it should raise. */
export interface SimAttack {
  device: string;
  /** The alert kind it should raise (analytics names: host_scan, exfiltration, ...). */
  kind: string;
  /** Flow time the attack starts, Unix ms. */
  atMs: number;
  description: string;
}

/** What the simulator needs from a hospital model: devices, attacks, and records for a flow-time window. */
export interface SimScenario {
  name: string;
  /** Flow time the scenario starts; it ends at `endMs` (Infinity: runs until stopped). */
  startMs: number;
  endMs: number;
  /** Networks the devices live in (the collector's monitored networks must cover them). */
  monitoredNetworks: readonly string[];
  devices: readonly SimDevice[];
  attacks: readonly SimAttack[];
  /**
   * Flow records of flows ending inside [fromMs, toMs) of flow time. `ratePerSecond` paces the models
   * that scale (the load hospital); the hospital-sim model has its own schedule and ignores it.
   */
  records(fromMs: number, toMs: number, ratePerSecond: number): FlowRecord[];
}

/** Options of {@link createHospitalSim}. */
export interface HospitalSimOptions {
  /** Flow time the hospital's day starts (aligned down to a minute). */
  startMs: number;
  durationMs: number;
  seed: number;
  attacks: boolean;
  /** Offset from start when the attacks start (the monitor goes silent 7 minutes earlier, when it fits). */
  attackAtMs: number;
}

/** The hospital of packages/hospital-sim behind the simulator's interface. */
export function createHospitalSim(opts: HospitalSimOptions): SimScenario {
  const silenceAtMs = Math.max(60_000, opts.attackAtMs - 7 * 60_000);
  const sc = createScenario({
    startMs: Math.floor(opts.startMs / 60_000) * 60_000,
    durationMs: opts.durationMs,
    seed: opts.seed,
    attacks: opts.attacks,
    attackAtMs: opts.attackAtMs,
    silenceAtMs,
  });
  return {
    name: 'hospital-sim',
    startMs: sc.startMs,
    endMs: sc.endMs,
    monitoredNetworks: sc.monitoredNetworks,
    devices: sc.devices.map((d) => ({ ip: d.ip, expectedClass: d.class })),
    attacks: sc.expectedAlerts.map((a) => ({
      device: a.device,
      kind: a.kind,
      atMs: a.atMs,
      description: a.description,
    })),
    records: (fromMs, toMs) => sc.records(fromMs, toMs),
  };
}

/** Options of {@link createLoadHospital}. */
export interface LoadHospitalOptions {
  /** Devices to simulate (at least 10). */
  devices: number;
  /** Seed of the pseudo-random generator: the same seed gives the same hospital and traffic. */
  seed: number;
  /** Wall-clock start of the simulation, Unix ms (attack times count from it). */
  startMs: number;
  /** Seconds after start when the compromised pump starts scanning (exfiltration follows 30 s later); < 0: no attack. */
  attackAfterS: number;
}

interface Peer {
  addr: string;
  port: number;
  protocol: 6 | 17;
  /** Bytes the device sends per flow (mean), and the server answers. */
  up: number;
  down: number;
}

interface ClassProfile {
  name: string;
  vlan: number;
  subnet: string;
  /** Share of the fleet. */
  share: number;
  /** Relative flows per second of one device. */
  activity: number;
  /** Locally administered MAC prefix per class, so a MAC shows which kind of device it is. */
  macPrefix: string;
  peers: Peer[];
}

// Servers of the simulated hospital (10.20.1.0/24) and a few internet services.
const DNS = '10.20.1.53';
const NTP = '10.20.1.123';
const PUMP_SERVER = '10.20.1.10';
const PACS = '10.20.1.20';
const CENTRAL_STATION = '10.20.1.30';
const EHR = '10.20.1.40';
const FILES = '10.20.1.50';
const PRINT_SERVER = '10.20.1.60';
const EXFIL_HOST = '203.0.113.66';

const dns: Peer = { addr: DNS, port: 53, protocol: 17, up: 70, down: 140 };
const ntp: Peer = { addr: NTP, port: 123, protocol: 17, up: 76, down: 76 };

const CLASSES: ClassProfile[] = [
  {
    name: 'workstation',
    vlan: 10,
    subnet: '10.20.10',
    share: 0.35,
    activity: 4,
    macPrefix: '02:10',
    peers: [
      dns,
      { addr: EHR, port: 443, protocol: 6, up: 2_000, down: 40_000 },
      { addr: FILES, port: 445, protocol: 6, up: 5_000, down: 120_000 },
      { addr: '52.96.10.20', port: 443, protocol: 6, up: 3_000, down: 60_000 },
      { addr: '142.250.74.36', port: 443, protocol: 6, up: 1_500, down: 30_000 },
      { addr: PRINT_SERVER, port: 9100, protocol: 6, up: 250_000, down: 800 },
    ],
  },
  {
    name: 'infusion_pump',
    vlan: 20,
    subnet: '10.20.20',
    share: 0.3,
    activity: 0.5,
    macPrefix: '02:20',
    peers: [{ addr: PUMP_SERVER, port: 443, protocol: 6, up: 900, down: 600 }, ntp, dns],
  },
  {
    name: 'patient_monitor',
    vlan: 30,
    subnet: '10.20.30',
    share: 0.2,
    activity: 1,
    macPrefix: '02:30',
    peers: [{ addr: CENTRAL_STATION, port: 2575, protocol: 6, up: 12_000, down: 400 }, ntp],
  },
  {
    name: 'imaging_modality',
    vlan: 40,
    subnet: '10.20.40',
    share: 0.05,
    activity: 0.8,
    macPrefix: '02:40',
    peers: [
      { addr: PACS, port: 104, protocol: 6, up: 4_000_000, down: 20_000 },
      { addr: PACS, port: 11112, protocol: 6, up: 3_000, down: 9_000 },
      dns,
    ],
  },
  {
    name: 'printer',
    vlan: 50,
    subnet: '10.20.50',
    share: 0.1,
    activity: 0.3,
    macPrefix: '02:50',
    peers: [{ addr: PRINT_SERVER, port: 161, protocol: 17, up: 300, down: 120 }, dns],
  },
];

/** A load-hospital device: always with its MAC and VLAN (exported, as MAC/VLAN-aware routers do). */
type LoadDevice = SimDevice & { mac: string; vlan: number };

const SCAN_PORTS = [22, 23, 80, 135, 139, 443, 445, 3389, 5900, 8080];

function mac(prefix: string, n: number): string {
  const hex = (v: number) => v.toString(16).padStart(2, '0');
  return `${prefix}:00:${hex((n >> 16) & 0xff)}:${hex((n >> 8) & 0xff)}:${hex(n & 0xff)}`;
}

/**
 * The load hospital: workstations, infusion pumps, patient monitors, imaging modalities and
 * printers on their own VLANs, each talking to its servers on its usual ports; one infusion pump is
 * compromised: it scans two VLANs, then sends tens of megabytes a minute to an internet host.
 */
export function createLoadHospital(opts: LoadHospitalOptions): SimScenario {
  if (!Number.isInteger(opts.devices) || opts.devices < 10 || opts.devices > 2000) {
    throw new RangeError(`devices must be an integer from 10 to 2000, got ${opts.devices}`);
  }
  const random = mulberry32(opts.seed);
  const devices: Array<LoadDevice & { profile: ClassProfile; weight: number }> = [];
  for (const profile of CLASSES) {
    const n = Math.max(1, Math.round(opts.devices * profile.share));
    for (let i = 0; i < n; i++) {
      const host = i + 11; // .1-.10 are gateways and infrastructure
      const third = Math.floor(host / 250);
      const [a, b, c] = profile.subnet.split('.').map(Number) as [number, number, number];
      const ip = `${a}.${b}.${c + third * 100}.${(host % 250) + 1}`;
      devices.push({
        ip,
        mac: mac(profile.macPrefix, i + 1),
        vlan: profile.vlan,
        expectedClass: profile.name,
        profile,
        weight: profile.activity * (0.5 + random()),
      });
    }
  }
  const totalWeight = devices.reduce((s, d) => s + d.weight, 0);
  const pump = devices.find((d) => d.expectedClass === 'infusion_pump')!;
  const attacks: SimAttack[] =
    opts.attackAfterS < 0
      ? []
      : [
          {
            device: pump.ip,
            kind: 'host_scan',
            atMs: opts.startMs + opts.attackAfterS * 1000,
            description: `compromised infusion pump ${pump.ip} scans 10.20.10.0/24 and 10.20.20.0/24`,
          },
          {
            device: pump.ip,
            kind: 'exfiltration',
            atMs: opts.startMs + (opts.attackAfterS + 30) * 1000,
            description: `compromised infusion pump ${pump.ip} sends data to ${EXFIL_HOST}:443`,
          },
        ];
  let scanCursor = 0;

  function pick(): (typeof devices)[number] {
    let x = random() * totalWeight;
    for (const d of devices) {
      x -= d.weight;
      if (x <= 0) return d;
    }
    return devices[devices.length - 1]!;
  }

  function flow(
    out: FlowRecord[],
    device: LoadDevice,
    peer: string,
    dstPort: number,
    protocol: number,
    bytes: number,
    endMs: number,
    tcpFlags: number,
  ): FlowRecord {
    const packets = Math.max(1, Math.ceil(bytes / 1200));
    const r = createFlowRecord();
    r.srcAddr = device.ip;
    r.dstAddr = peer;
    r.srcPort = 32768 + Math.floor(random() * 28000);
    r.dstPort = dstPort;
    r.protocol = protocol;
    r.tcpFlags = protocol === 6 ? tcpFlags : 0;
    r.bytes = Math.max(packets * 40, Math.round(bytes));
    r.packets = packets;
    r.endMs = endMs;
    r.startMs = endMs - Math.min(60_000, 5 + Math.floor(packets * 2 * random()));
    r.inputIf = device.vlan;
    r.outputIf = 1;
    r.srcVlan = device.vlan;
    r.srcMac = device.mac;
    r.direction = 0;
    out.push(r);
    return r;
  }

  /** The answer of a server: same flow, reversed, as a unidirectional exporter sees it. */
  function reply(out: FlowRecord[], req: FlowRecord, bytes: number, device: LoadDevice): void {
    const r = createFlowRecord();
    r.srcAddr = req.dstAddr;
    r.dstAddr = req.srcAddr;
    r.srcPort = req.dstPort;
    r.dstPort = req.srcPort;
    r.protocol = req.protocol;
    r.tcpFlags = req.protocol === 6 ? 0x1a : 0;
    r.packets = Math.max(1, Math.ceil(bytes / 1400));
    r.bytes = Math.max(r.packets * 40, Math.round(bytes));
    r.startMs = req.startMs + 1;
    r.endMs = req.endMs;
    r.inputIf = 1;
    r.outputIf = device.vlan;
    r.dstVlan = device.vlan;
    r.dstMac = device.mac;
    r.direction = 1;
    out.push(r);
  }

  return {
    name: 'load-hospital',
    startMs: opts.startMs,
    endMs: Number.POSITIVE_INFINITY,
    monitoredNetworks: ['10.20.0.0/16'],
    devices: devices.map(({ ip, mac, vlan, expectedClass }) => ({ ip, mac, vlan, expectedClass })),
    attacks,
    records(fromMs, toMs, ratePerSecond) {
      const out: FlowRecord[] = [];
      const span = toMs - fromMs;
      // Each conversation gives two records (request and answer), so half as many conversations.
      const conversations = Math.round((ratePerSecond * span) / 2000 + random() - 0.5);
      for (let i = 0; i < conversations; i++) {
        const d = pick();
        const peer = d.profile.peers[Math.floor(random() * d.profile.peers.length)]!;
        const endMs = fromMs + Math.floor(random() * span);
        const jitter = 0.5 + random();
        const req = flow(out, d, peer.addr, peer.port, peer.protocol, peer.up * jitter, endMs, 0x1b);
        reply(out, req, peer.down * jitter, d);
      }
      for (const attack of attacks) {
        if (toMs <= attack.atMs) continue;
        const from = Math.max(fromMs, attack.atMs);
        if (attack.kind === 'host_scan') {
          // 40 probes a second across two /24s: SYN only, no answer.
          const probes = Math.round(((toMs - from) * 40) / 1000);
          for (let i = 0; i < probes; i++) {
            const n = scanCursor++;
            const target = `10.20.${n % 2 === 0 ? 10 : 20}.${(Math.floor(n / 2) % 254) + 1}`;
            const port = SCAN_PORTS[Math.floor(n / 508) % SCAN_PORTS.length]!;
            flow(out, pump, target, port, 6, 44, from + Math.floor(random() * (toMs - from)), 0x02);
          }
        } else {
          // About 50 MB a minute to one internet host over HTTPS: one flow per window.
          const bytes = (850_000 * (toMs - from) * (0.8 + random() * 0.4)) / 1000;
          const req = flow(out, pump, EXFIL_HOST, 443, 6, bytes, toMs - 1, 0x1b);
          reply(out, req, bytes / 40, pump);
        }
      }
      return out;
    },
  };
}
