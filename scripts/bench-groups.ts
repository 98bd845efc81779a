// Behaviour-grouping benchmark (issue 17): the grouping job (services/analytics/src/grouping.ts) over a
// synthetic inventory of 1k, 10k and 100k devices in the real PostgreSQL: it reads every device and
// profile, groups them and writes the groups and each device's group in one transaction. Prints, per
// size: devices, profile rows, distinct shapes, similar pairs, groups, the job's wall time (and the
// grouping alone, in process, on the same profiles), the process's peak RSS and heap during the job, and
// purity and completeness against the synthetic kinds (a kind at one site: see inventory()). The job runs
// twice: first (every device joins a group), then steady (the same profiles again: `job_s`).
//
// The inventory: hospitals of 2,000 devices (sites), each with its own servers; 40 device kinds, each a
// template of 2-3 services it always uses (on its site's servers), 4 it uses or not (a coin each), maybe
// a service it offers, maybe HTTPS on the internet, maybe periodic. One site in four exports sampled 1:100
// (each entry seen in 1-4 flows), the others unsampled (8-60 flows). Seeded: the same sizes, the same
// inventory. Options (env): BENCH_SIZES=1000,10000 (100000 on a database of its own)  BENCH_PEER=1 also runs the grouping with every
// pair that shares a feature compared (pairFloor 0, exact average linkage) where it has fewer than 20k
// shapes.
import { mulberry32 } from '../packages/hospital-sim/src/index.ts';
import { migrate, openDatabase } from '../packages/storage/src/index.ts';
import {
  createGroupingJob,
  type GroupEntry,
  type GroupInput,
  groupProfiles,
} from '../services/analytics/src/index.ts';

const SITE_DEVICES = 2000;
const KINDS = 40;
const ROLES = 30;
const PORTS = [443, 445, 53, 88, 389, 2575, 104, 3613, 4077, 5084, 9100, 161, 514, 8080, 1433, 3389];

interface Service {
  role: number;
  port: number;
  proto: number;
}
interface Kind {
  core: Service[];
  optional: Service[];
  serves: number | undefined;
  internet: boolean;
  periodic: boolean;
}

function kinds(): Kind[] {
  const rng = mulberry32(1);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;
  const service = (): Service => ({
    role: Math.floor(rng() * ROLES),
    port: pick(PORTS),
    proto: rng() < 0.2 ? 17 : 6,
  });
  return Array.from({ length: KINDS }, () => ({
    core: Array.from({ length: 2 + Math.floor(rng() * 2) }, service),
    optional: Array.from({ length: 4 }, service),
    serves: rng() < 0.3 ? 10000 + Math.floor(rng() * 50) : undefined,
    internet: rng() < 0.3,
    periodic: rng() < 0.5,
  }));
}

interface Device {
  input: GroupInput;
  kind: number;
}

function inventory(n: number): Device[] {
  const rng = mulberry32(n);
  const templates = kinds();
  const out: Device[] = [];
  for (let i = 0; i < n; i++) {
    const site = Math.floor(i / SITE_DEVICES);
    const sampled = site % 4 === 3;
    const flows = () => (sampled ? 1 + Math.floor(rng() * 4) : 8 + Math.floor(rng() * 53));
    const kind = Math.floor(rng() * KINDS);
    const t = templates[kind]!;
    const server = (role: number) => `10.${site}.0.${role + 1}/32`;
    const ip = `10.${site}.${1 + Math.floor((i % SITE_DEVICES) / 250)}.${(i % 250) + 1}`;
    const entries: GroupEntry[] = [];
    for (const s of [...t.core, ...t.optional.filter(() => rng() < 0.5)])
      entries.push({
        peer: server(s.role),
        port: s.port,
        proto: s.proto,
        dir: 'outbound',
        internal: true,
        flows: flows(),
      });
    if (t.serves !== undefined)
      entries.push({
        peer: `10.${site}.9.0/24`,
        port: t.serves,
        proto: 6,
        dir: 'inbound',
        internal: true,
        flows: flows(),
      });
    if (t.internet)
      entries.push({
        peer: `198.51.100.${1 + Math.floor(rng() * 200)}/32`,
        port: 443,
        proto: 6,
        dir: 'outbound',
        internal: false,
        flows: flows(),
      });
    // One entry per (peer, port, protocol, direction), as device_profiles keys them.
    const unique = [...new Map(entries.map((e) => [`${e.peer} ${e.port} ${e.proto} ${e.dir}`, e])).values()];
    // The truth: the kind at its site (the features name the site's servers, so the same kind at two
    // sites, using different servers, behaves alike only by its services: two groups).
    out.push({
      input: { ip, entries: unique, periodic: t.periodic, class: 'unknown' },
      kind: site * KINDS + kind,
    });
  }
  return out;
}

/** Purity and completeness of a grouping against the devices' kinds. */
function score(groups: ReturnType<typeof groupProfiles>['groups'], kindOf: Map<string, number>) {
  let pure = 0;
  let total = 0;
  const byKind = new Map<number, Map<number, number>>();
  for (const g of groups) {
    const count = new Map<number, number>();
    for (const m of g.members) {
      const k = kindOf.get(m.ip)!;
      count.set(k, (count.get(k) ?? 0) + 1);
      const per = byKind.get(k) ?? new Map<number, number>();
      per.set(g.id, (per.get(g.id) ?? 0) + 1);
      byKind.set(k, per);
      total++;
    }
    pure += Math.max(...count.values());
  }
  let complete = 0;
  for (const per of byKind.values()) complete += Math.max(...per.values());
  return { purity: pure / total, completeness: complete / total };
}

/** Samples the process's RSS and heap while `fn` runs; returns its result, wall seconds and the peaks. */
async function measured<T>(
  fn: () => Promise<T> | T,
): Promise<{ value: T; s: number; rssMb: number; heapMb: number }> {
  global.gc?.();
  let rss = process.memoryUsage().rss;
  let heap = process.memoryUsage().heapUsed;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }, 20);
  const t0 = performance.now();
  try {
    const value = await fn();
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
    return { value, s: (performance.now() - t0) / 1000, rssMb: rss / 2 ** 20, heapMb: heap / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

async function load(pool: import('pg').Pool, devices: Device[]): Promise<number> {
  const now = Date.now();
  let rows = 0;
  for (let i = 0; i < devices.length; i += 5000) {
    const chunk = devices.slice(i, i + 5000);
    await pool.query(
      `INSERT INTO devices (ip, first_seen, last_seen, last_sent, max_send_gap_ms)
       SELECT u.ip, to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0), to_timestamp($3 / 1000.0), u.gap
       FROM unnest($1::inet[], $4::bigint[]) AS u(ip, gap)`,
      [
        chunk.map((d) => d.input.ip),
        now - 3_600_000,
        now,
        chunk.map((d) => (d.input.periodic ? 30_000 : 900_000)),
      ],
    );
    const e = chunk.flatMap((d) => d.input.entries.map((x) => ({ ip: d.input.ip, ...x })));
    rows += e.length;
    await pool.query(
      `INSERT INTO device_profiles (device_ip, peer, service_port, protocol, direction, peer_internal, flows,
         first_seen, last_seen)
       SELECT u.ip, u.peer, u.port, u.proto, u.dir, u.internal, u.flows, now(), now()
       FROM unnest($1::inet[], $2::cidr[], $3::int[], $4::smallint[], $5::text[], $6::bool[], $7::bigint[])
         AS u(ip, peer, port, proto, dir, internal, flows)`,
      [
        e.map((x) => x.ip),
        e.map((x) => x.peer),
        e.map((x) => x.port),
        e.map((x) => x.proto),
        e.map((x) => x.dir),
        e.map((x) => x.internal),
        e.map((x) => x.flows ?? 0),
      ],
    );
  }
  return rows;
}

async function benchSize(n: number, url: string): Promise<void> {
  const schema = `bench_groups_${process.pid}_${n}`;
  const db = await openDatabase({ kind: 'postgres', url, schema, poolSize: 2 });
  try {
    await migrate(db);
    const devices = inventory(n);
    const kindOf = new Map(devices.map((d) => [d.input.ip, d.kind]));
    const rows = await load(db.pool, devices);
    await db.pool.query('ANALYZE devices; ANALYZE device_profiles');
    const job = createGroupingJob(db.pool, { intervalMs: 300_000 });
    // First run: every device joins a group (an event each); then the steady state: the same profiles again.
    const first = await measured(() => job.run({ force: true }));
    const run = await measured(() => job.run({ force: true }));
    if (!first.value.ran || !run.value.ran)
      throw new Error('the grouping job did not run (lock held elsewhere)');
    const inputs = devices.map((d) => d.input);
    const alone = await measured(() => groupProfiles(inputs));
    const st = alone.value.stats;
    const s = score(alone.value.groups, kindOf);
    console.log(
      `devices=${n} profile_rows=${rows} shapes=${st.shapes} pairs=${st.pairs} groups=${run.value.groups} ` +
        `first_job_peak_rss_mb=${first.rssMb.toFixed(0)} ` +
        `first_job_s=${first.s.toFixed(2)} job_s=${run.s.toFixed(2)} job_peak_rss_mb=${run.rssMb.toFixed(0)} job_peak_heap_mb=${run.heapMb.toFixed(0)} ` +
        `grouping_s=${alone.s.toFixed(2)} grouping_peak_heap_mb=${alone.heapMb.toFixed(0)} ` +
        `purity=${s.purity.toFixed(3)} completeness=${s.completeness.toFixed(3)}`,
    );
    if (process.env.BENCH_PEER && st.shapes < 20_000) {
      const peer = await measured(() => groupProfiles(inputs, { pairFloor: 0 }));
      const ps = score(peer.value.groups, kindOf);
      console.log(
        `  peer (every pair sharing a feature, pairFloor 0): pairs=${peer.value.stats.pairs} ` +
          `grouping_s=${peer.s.toFixed(2)} grouping_peak_heap_mb=${peer.heapMb.toFixed(0)} ` +
          `purity=${ps.purity.toFixed(3)} completeness=${ps.completeness.toFixed(3)}`,
      );
    }
  } finally {
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}_reporting" CASCADE`);
    await db.close();
  }
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  // 100k on request only: its first run commits 100k events, numbered under a database-wide lock (see
  // docs/analytics.md, Scale), which holds up every other writer of events in the database for minutes.
  const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
  for (const n of sizes) await benchSize(n, url);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
