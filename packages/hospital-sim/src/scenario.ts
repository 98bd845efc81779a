import type { FlowRecord } from '@wardwatch/flow-schema';
import type { SyntheticPacket } from './pcap.ts';
import { packetsToRecords, type RecordOptions } from './records.ts';
import { mulberry32, seedOf } from './rng.ts';
import { ACK, bulk, ephemeral, PSH, RST, SYN, tcp, tcpSession, udp } from './traffic.ts';

/** Device classes the simulation produces (the analytics class names). */
export type SimClass =
  | 'infusion_pump'
  | 'patient_monitor'
  | 'imaging_modality'
  | 'pacs'
  | 'hl7_engine'
  | 'lab_analyzer'
  | 'nurse_call'
  | 'rtls'
  | 'printer'
  | 'workstation'
  | 'server'
  | 'network_device';

/** Alert kinds the injected attacks must raise. */
export type SimAlertKind =
  | 'host_scan'
  | 'exfiltration'
  | 'lateral_movement'
  | 'device_silent'
  | 'external_contact';

/** One simulated device. */
export interface SimDevice {
  ip: string;
  name: string;
  /** The class a correct classification gives it. */
  class: SimClass;
  /**
   * Its real kind: the template it is made from (`pump` for every pump, `pump-server`, `dc-dns-syslog`,
   * `workstation`), its name without the number. Devices of one kind behave alike; of different kinds,
   * not (several kinds share a class: the pump server, file server, DC, EHR and RTLS engine are `server`).
   */
  kind: string;
  /** True when an injected attack involves it (it must raise its expected alerts, and may raise others). */
  attacked: boolean;
}

/** An alert an injected attack must raise. */
export interface ExpectedAlert {
  device: string;
  kind: SimAlertKind;
  /** Flow time the attack starts. */
  atMs: number;
  description: string;
}

/** Options for {@link createScenario}; every field has a default. */
export interface ScenarioOptions {
  /** Flow time of the first packet (default: 50 minutes ago, on a minute boundary). */
  startMs?: number;
  /** Length of the simulated period (default 45 minutes). */
  durationMs?: number;
  /** Same seed, same hospital (default 1). */
  seed?: number;
  /** Inject the attacks (default true). */
  attacks?: boolean;
  /** Offset from start at which the patient monitor goes silent (default 24 minutes). */
  silenceAtMs?: number;
  /** Offset from start at which the other attacks start (default 31 minutes). */
  attackAtMs?: number;
  /** Hours to add to UTC for the hospital's local time (day shift 07:00-19:00 is busier). */
  utcOffsetHours?: number;
}

/** A simulated hospital: its devices, the alerts its attacks must raise, and its traffic on demand. */
export interface Scenario {
  startMs: number;
  endMs: number;
  /** Networks the hospital's devices live in (configure them as monitored). */
  monitoredNetworks: string[];
  devices: SimDevice[];
  expectedAlerts: ExpectedAlert[];
  /** Devices no attack involves: they must raise no alert. */
  cleanDevices(): SimDevice[];
  /** Every packet with capture time in [fromMs, toMs), sorted by time. Windows compose exactly. */
  packets(fromMs: number, toMs: number): SyntheticPacket[];
  /**
   * The flow records an exporter with an active timeout of the window would send for [fromMs, toMs):
   * one unidirectional record per 5-tuple and window.
   */
  records(fromMs: number, toMs: number, opts?: RecordOptions): FlowRecord[];
  /** Consecutive windows of `stepMs` covering the scenario. */
  windows(stepMs: number): Array<[number, number]>;
}

type Emit = (out: SyntheticPacket[], from: number, to: number) => void;

const MINUTE = 60_000;
/** Longest a generated conversation runs past the time it starts. */
const SPILL_MS = 2 * MINUTE;

/** Addresses: servers in 10.10.0.0/24, device groups in their own /24s, the internet outside. */
const NET = {
  pumpServer: '10.10.0.10',
  fileServer: '10.10.0.11',
  dc: '10.10.0.12',
  ehr: '10.10.0.13',
  hl7: '10.10.0.20',
  pacs: '10.10.0.30',
  central: '10.10.0.40',
  nurseServer: '10.10.0.50',
  rtlsEngine: '10.10.0.60',
};
const pumps = Array.from({ length: 8 }, (_, i) => `10.20.1.${i + 1}`);
const monitors = Array.from({ length: 8 }, (_, i) => `10.30.1.${i + 1}`);
const modalities = Array.from({ length: 3 }, (_, i) => `10.40.1.${i + 1}`);
const labs = Array.from({ length: 3 }, (_, i) => `10.50.1.${i + 1}`);
const nurseCall = Array.from({ length: 2 }, (_, i) => `10.60.1.${i + 1}`);
const readers = Array.from({ length: 2 }, (_, i) => `10.70.1.${i + 1}`);
const printers = Array.from({ length: 2 }, (_, i) => `10.80.1.${i + 1}`);
const workstations = Array.from({ length: 6 }, (_, i) => `10.90.1.${i + 1}`);
const switches = ['10.0.0.1', '10.0.0.2'];
/** Web sites the workstations browse. */
const websites = Array.from({ length: 24 }, (_, i) => `198.18.${Math.floor(i / 8)}.${10 + (i % 8) * 7}`);

/** Creates the simulated hospital. Pure: nothing is generated until packets() or records() is called. */
export function createScenario(opts: ScenarioOptions = {}): Scenario {
  const startMs = opts.startMs ?? Math.floor((Date.now() - 50 * MINUTE) / MINUTE) * MINUTE;
  const endMs = startMs + (opts.durationMs ?? 45 * MINUTE);
  const seed = opts.seed ?? 1;
  const attacks = opts.attacks ?? true;
  const silenceAt = startMs + (opts.silenceAtMs ?? 24 * MINUTE);
  const attackAt = startMs + (opts.attackAtMs ?? 31 * MINUTE);
  const utcOffset = opts.utcOffsetHours ?? 0;
  const emitters: Emit[] = [];
  const devices: SimDevice[] = [];
  const expectedAlerts: ExpectedAlert[] = [];

  const device = (ip: string, name: string, cls: SimClass) =>
    devices.push({ ip, name, class: cls, kind: name.replace(/-\d+$/, ''), attacked: false });
  /** Busier during the day shift (07:00-19:00 local), never idle: a hospital runs all night. */
  const dayFactor = (t: number) => {
    const h = (new Date(t).getUTCHours() + utcOffset + 24) % 24;
    return h >= 7 && h < 19 ? 1 : 0.5;
  };

  /** Calls `fn` every `periodMs` (phase `phaseMs`) for event times that can reach the window. */
  const periodic =
    (periodMs: number, phaseMs: number, fn: (out: SyntheticPacket[], t: number) => void): Emit =>
    (out, from, to) => {
      const lo = from - SPILL_MS;
      let k = Math.ceil((lo - startMs - phaseMs) / periodMs);
      if (k < 0) k = 0;
      for (let t = startMs + phaseMs + k * periodMs; t < to && t < endMs; t += periodMs) fn(out, t);
    };
  /** With probability `p(t)` per minute, calls `fn` once at a random second of that minute. */
  const random =
    (
      id: string,
      p: (t: number) => number,
      fn: (out: SyntheticPacket[], t: number, rng: () => number) => void,
    ): Emit =>
    (out, from, to) => {
      const first = Math.max(startMs, Math.floor((from - SPILL_MS) / MINUTE) * MINUTE);
      for (let m = first; m < to && m < endMs; m += MINUTE) {
        const rng = mulberry32(seedOf(seed, id, m));
        if (rng() >= p(m)) continue;
        const t = m + Math.floor(rng() * (MINUTE - 5000));
        fn(out, t, rng);
      }
    };

  // Servers.
  device(NET.pumpServer, 'pump-server', 'server');
  device(NET.fileServer, 'file-server', 'server');
  device(NET.dc, 'dc-dns-syslog', 'server');
  device(NET.ehr, 'ehr', 'server');
  device(NET.hl7, 'hl7-engine', 'hl7_engine');
  device(NET.pacs, 'pacs', 'pacs');
  device(NET.central, 'central-station', 'patient_monitor');
  device(NET.nurseServer, 'nurse-call-server', 'nurse_call');
  device(NET.rtlsEngine, 'rtls-engine', 'server');

  // Infusion pumps: a persistent connection to the pump server, a status message every 15 s.
  pumps.forEach((ip, i) => {
    device(ip, `pump-${i + 1}`, 'infusion_pump');
    const port = 50000 + i;
    emitters.push(
      periodic(15_000, 1000 + i * 700, (out, t) => {
        tcp(out, t, ip, NET.pumpServer, port, 3613, PSH | ACK, 180);
        tcp(out, t + 20, NET.pumpServer, ip, 3613, port, PSH | ACK, 60);
      }),
    );
  });

  // Patient monitors: waveforms/parameters to the central station over UDP 2000 every 2 s, alarms
  // channel UDP 7000 every 10 s; the central station answers every 10 s.
  monitors.forEach((ip, i) => {
    device(ip, `monitor-${i + 1}`, 'patient_monitor');
    const port = 40000 + i;
    const alive = (t: number) => !(attacks && i === 4 && t >= silenceAt);
    emitters.push(
      periodic(2000, 300 + i * 150, (out, t) => {
        if (alive(t)) udp(out, t, ip, NET.central, port, 2000, 320);
      }),
      periodic(10_000, 900 + i * 400, (out, t) => {
        if (!alive(t)) return;
        udp(out, t, ip, NET.central, port + 100, 7000, 120);
        udp(out, t + 15, NET.central, ip, 2000, port, 64);
      }),
    );
  });

  // Imaging modalities: a worklist query every 5 minutes and a study sent to the PACS every 6-9 minutes.
  modalities.forEach((ip, i) => {
    device(ip, `modality-${i + 1}`, 'imaging_modality');
    emitters.push(
      periodic(5 * MINUTE, 40_000 + i * 9000, (out, t) =>
        tcpSession(out, t, ip, NET.pacs, ephemeral(t / 1000 + i), 104, {
          requests: 3,
          requestBytes: 400,
          responses: 3,
          responseBytes: 900,
        }),
      ),
    );
    const studyEvery = (6 + i) * MINUTE;
    emitters.push(
      periodic(studyEvery, 2 * MINUTE + i * 20_000, (out, t) => {
        bulk(out, t, ip, NET.pacs, ephemeral(t / 1000 + 7 * i), 104, 500, 1400, { stepMs: 10 });
      }),
    );
  });

  // PACS: results to the HL7 engine now and then.
  emitters.push(
    random(
      'pacs-hl7',
      () => 0.3,
      (out, t) =>
        tcpSession(out, t, NET.pacs, NET.hl7, ephemeral(t / 1000), 2575, {
          requests: 1,
          requestBytes: 700,
          responses: 1,
          responseBytes: 40,
        }),
    ),
  );

  // Central station: ADT from the HL7 engine side (it opens 2575 to the engine).
  emitters.push(
    periodic(3 * MINUTE, 50_000, (out, t) =>
      tcpSession(out, t, NET.central, NET.hl7, ephemeral(t / 1000 + 3), 2575, {
        requests: 1,
        requestBytes: 300,
        responses: 1,
        responseBytes: 40,
      }),
    ),
  );

  // HL7 engine: forwards to the EHR.
  emitters.push(
    random(
      'hl7-ehr',
      () => 0.6,
      (out, t) =>
        tcpSession(out, t, NET.hl7, NET.ehr, ephemeral(t / 1000 + 11), 2575, {
          requests: 2,
          requestBytes: 600,
          responses: 2,
          responseBytes: 40,
        }),
    ),
  );

  // Lab analyzers: results to the HL7 engine (LIS interface) every few minutes.
  labs.forEach((ip, i) => {
    device(ip, `lab-${i + 1}`, 'lab_analyzer');
    const port = 51000 + i;
    emitters.push(
      random(
        `lab-${i}`,
        () => 0.4,
        (out, t) => {
          tcp(out, t, ip, NET.hl7, port, 2575, PSH | ACK, 900);
          tcp(out, t + 30, NET.hl7, ip, 2575, port, PSH | ACK, 40);
        },
      ),
      // Keepalive on the LIS connection.
      periodic(MINUTE, 5000 + i * 3000, (out, t) => {
        tcp(out, t, ip, NET.hl7, port, 2575, PSH | ACK, 12);
        tcp(out, t + 30, NET.hl7, ip, 2575, port, PSH | ACK, 12);
      }),
    );
  });

  // Nurse call controllers: heartbeat to the messaging server every 30 s, calls now and then.
  nurseCall.forEach((ip, i) => {
    device(ip, `nurse-call-${i + 1}`, 'nurse_call');
    const port = 52000 + i;
    emitters.push(
      periodic(30_000, 2000 + i * 1000, (out, t) => {
        tcp(out, t, ip, NET.nurseServer, port, 4077, PSH | ACK, 60);
        tcp(out, t + 10, NET.nurseServer, ip, 4077, port, PSH | ACK, 40);
      }),
      random(
        `call-${i}`,
        (t) => 0.3 * dayFactor(t),
        (out, t) => {
          tcp(out, t, ip, NET.nurseServer, port, 4077, PSH | ACK, 220);
          tcp(out, t + 10, NET.nurseServer, ip, 4077, port, PSH | ACK, 40);
        },
      ),
    );
  });

  // RTLS readers: the RTLS engine holds an LLRP connection to each; tag reports every 2 s.
  readers.forEach((ip, i) => {
    device(ip, `rtls-reader-${i + 1}`, 'rtls');
    const port = 53000 + i;
    emitters.push(
      periodic(2000, 700 + i * 500, (out, t) => tcp(out, t, ip, NET.rtlsEngine, 5084, port, PSH | ACK, 90)),
      periodic(10_000, 1500 + i * 500, (out, t) =>
        tcp(out, t, NET.rtlsEngine, ip, port, 5084, PSH | ACK, 20),
      ),
    );
  });

  // Printers: jobs from the workstations.
  printers.forEach((ip, i) => {
    device(ip, `printer-${i + 1}`, 'printer');
  });

  // Workstations: DNS, Kerberos/LDAP, SMB, the EHR and internal web apps, the web, printing.
  workstations.forEach((ip, i) => {
    device(ip, `workstation-${i + 1}`, 'workstation');
    const id = `ws-${i}`;
    emitters.push(
      random(
        `${id}-dns`,
        (t) => 0.9 * dayFactor(t),
        (out, t, rng) => {
          const p = ephemeral(rng() * 1e6);
          udp(out, t, ip, NET.dc, p, 53, 40);
          udp(out, t + 2, NET.dc, ip, 53, p, 120);
        },
      ),
      random(
        `${id}-auth`,
        (t) => 0.2 * dayFactor(t),
        (out, t, rng) => {
          const port = rng() < 0.5 ? 88 : 389;
          tcpSession(out, t, ip, NET.dc, ephemeral(rng() * 1e6), port, {
            requests: 2,
            requestBytes: 300,
            responses: 2,
            responseBytes: 900,
          });
        },
      ),
      random(
        `${id}-smb`,
        (t) => 0.4 * dayFactor(t),
        (out, t, rng) =>
          tcpSession(out, t, ip, NET.fileServer, ephemeral(rng() * 1e6), 445, {
            requests: 6,
            requestBytes: 200,
            responses: 6,
            responseBytes: 1200,
          }),
      ),
      random(
        `${id}-ehr`,
        (t) => 0.7 * dayFactor(t),
        (out, t, rng) => {
          const apps = [NET.ehr, NET.pacs, NET.rtlsEngine];
          const app = apps[Math.floor(rng() * apps.length)]!;
          tcpSession(out, t, ip, app, ephemeral(rng() * 1e6), 443, {
            requests: 4,
            requestBytes: 500,
            responses: 6,
            responseBytes: 1300,
          });
        },
      ),
      random(
        `${id}-web`,
        (t) => 0.6 * dayFactor(t),
        (out, t, rng) => {
          const site = websites[Math.floor(rng() * websites.length)]!;
          tcpSession(out, t, ip, site, ephemeral(rng() * 1e6), 443, {
            requests: 3,
            requestBytes: 450,
            responses: 8,
            responseBytes: 1350,
          });
        },
      ),
      random(
        `${id}-print`,
        (t) => 0.12 * dayFactor(t),
        (out, t, rng) => {
          const printer = printers[(i + (rng() < 0.3 ? 1 : 0)) % printers.length]!;
          tcpSession(out, t, ip, printer, ephemeral(rng() * 1e6), 9100, {
            requests: 20,
            requestBytes: 1400,
            responses: 1,
            responseBytes: 0,
          });
        },
      ),
    );
  });
  // Every printer prints early on, so each has served a job before the learning period ends.
  printers.forEach((printer, i) => {
    emitters.push(
      periodic(7 * MINUTE, 30_000 + i * 45_000, (out, t) =>
        tcpSession(
          out,
          t,
          workstations[(i * 3) % workstations.length]!,
          printer,
          ephemeral(t / 1000 + i),
          9100,
          {
            requests: 20,
            requestBytes: 1400,
            responses: 1,
            responseBytes: 0,
          },
        ),
      ),
    );
  });

  // Switches: polled over SNMP by the NMS on the DC host every minute; syslog now and then.
  switches.forEach((ip, i) => {
    device(ip, `switch-${i + 1}`, 'network_device');
    emitters.push(
      periodic(MINUTE, 10_000 + i * 2000, (out, t) => {
        const p = ephemeral(t / 1000 + i);
        udp(out, t, NET.dc, ip, p, 161, 90);
        udp(out, t + 4, ip, NET.dc, 161, p, 400);
      }),
      random(
        `sw-${i}-syslog`,
        () => 0.5,
        (out, t) => udp(out, t, ip, NET.dc, 514, 514, 160),
      ),
    );
  });

  if (attacks) {
    const mark = (ip: string) => {
      const d = devices.find((x) => x.ip === ip)!;
      d.attacked = true;
    };
    // The monitor that goes silent (its emitters stop above).
    mark(monitors[4]!);
    expectedAlerts.push({
      device: monitors[4]!,
      kind: 'device_silent',
      atMs: silenceAt,
      description: 'patient monitor stops sending',
    });

    // A compromised pump sweeps a subnet for web servers, then uploads to an external host.
    const pump = pumps[2]!;
    mark(pump);
    expectedAlerts.push(
      { device: pump, kind: 'host_scan', atMs: attackAt, description: 'pump probes 40 hosts on port 80' },
      {
        device: pump,
        kind: 'exfiltration',
        atMs: attackAt + MINUTE,
        description: 'pump sends ~7 MB to an external host',
      },
    );
    emitters.push((out, from, to) => {
      if (attackAt + SPILL_MS < from || attackAt >= to) return;
      for (let h = 1; h <= 40; h++) {
        const t = attackAt + h * 150;
        tcp(out, t, pump, `10.20.2.${h}`, 55000 + h, 80, SYN);
        tcp(out, t + 1000, pump, `10.20.2.${h}`, 55000 + h, 80, SYN);
      }
    });
    emitters.push((out, from, to) => {
      const t0 = attackAt + MINUTE + 5000;
      if (t0 + SPILL_MS < from || t0 >= to) return;
      bulk(out, t0, pump, '203.0.113.66', 56100, 443, 5000, 1400, { stepMs: 4, ackEvery: 16 });
    });

    // Lateral movement: a workstation tries SMB and RDP on a dozen internal hosts.
    const ws = workstations[1]!;
    mark(ws);
    expectedAlerts.push({
      device: ws,
      kind: 'lateral_movement',
      atMs: attackAt + 2 * MINUTE,
      description: 'workstation reaches 12 internal hosts on SMB/RDP',
    });
    emitters.push((out, from, to) => {
      const t0 = attackAt + 2 * MINUTE;
      if (t0 + SPILL_MS < from || t0 >= to) return;
      const targets = [...Array.from({ length: 10 }, (_, k) => `10.90.2.${k + 1}`), NET.fileServer, NET.dc];
      targets.forEach((target, k) => {
        const t = t0 + k * 800;
        const port = k % 3 === 0 ? 3389 : 445;
        const sp = 57000 + k;
        tcp(out, t, ws, target, sp, port, SYN);
        if (target === NET.fileServer || target === NET.dc) {
          // Existing servers refuse (RDP closed): a reset, no conversation.
          tcp(out, t + 2, target, ws, port, sp, RST | ACK);
        } else {
          tcp(out, t + 1000, ws, target, sp, port, SYN);
        }
      });
    });

    // A modality contacts the internet (e.g. a vendor cloud it must never reach).
    const modality = modalities[1]!;
    mark(modality);
    expectedAlerts.push({
      device: modality,
      kind: 'external_contact',
      atMs: attackAt + 3 * MINUTE,
      description: 'imaging modality opens HTTPS to an internet address',
    });
    emitters.push((out, from, to) => {
      const t0 = attackAt + 3 * MINUTE;
      if (t0 + SPILL_MS < from || t0 >= to) return;
      tcpSession(out, t0, modality, '198.51.100.23', 58000, 443, {
        requests: 5,
        requestBytes: 600,
        responses: 5,
        responseBytes: 1200,
      });
    });
  }

  function packets(fromMs: number, toMs: number): SyntheticPacket[] {
    const out: SyntheticPacket[] = [];
    const lo = Math.max(fromMs, startMs);
    const hi = Math.min(toMs, endMs);
    if (hi <= lo) return out;
    for (const emit of emitters) emit(out, lo, hi);
    const inWindow = out.filter((p) => p.tsMs >= lo && p.tsMs < hi);
    inWindow.sort((a, b) => a.tsMs - b.tsMs);
    return inWindow;
  }

  return {
    startMs,
    endMs,
    monitoredNetworks: ['10.0.0.0/8'],
    devices,
    expectedAlerts,
    cleanDevices: () => devices.filter((d) => !d.attacked),
    packets,
    records: (fromMs, toMs, o) => packetsToRecords(packets(fromMs, toMs), o),
    windows(stepMs) {
      const out: Array<[number, number]> = [];
      for (let t = startMs; t < endMs; t += stepMs) out.push([t, Math.min(endMs, t + stepMs)]);
      return out;
    },
  };
}
