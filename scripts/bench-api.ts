// Benchmark of the policy API against real PostgreSQL: 100k devices (with alerts, behaviour profiles
// and baselines for a share of them), the real service in a child process, autocannon in this one.
// Prints one line per scenario (rate, latency, CPU per request of the service and of PostgreSQL) and,
// last, key=value figures for device detail (rps, p99_ms).
//
//   pnpm bench:api [-- --devices 100000 --duration 10 --connections 16]
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startWardwatch } from '../cli/src/index.ts';
import { loadConfig } from '../packages/config/src/index.ts';
import { migrate, openDatabase, reportingSchema } from '../packages/storage/src/index.ts';
import { createLogger } from '../packages/telemetry/src/index.ts';
import { createApiKey } from '../services/policy/src/index.ts';
import { seedDevices } from './bench-seed.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const KEY = 'bench-admin-key-0123456789abcdef';

async function serve(schema: string): Promise<void> {
  const config = loadConfig({
    env: {},
    overrides: {
      mode: 'cluster',
      'database.url': DATABASE_URL,
      'database.schema': schema,
      'database.poolSize': 16,
      'api.host': '127.0.0.1',
      'api.port': 0,
      'api.rateLimitPerMinute': 100_000_000,
      'api.bootstrapApiKey': KEY,
      'webhooks.secretKey': 'bench-webhook-secret-key-0123',
      // The service reads exporters-v1 as in production, from topics of its own.
      'kafka.brokers': (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
      'kafka.topicPrefix': `${schema}.`,
      'analytics.groupId': schema,
      logLevel: 'warn',
    },
  });
  // Assembled as `wardwatch start --service policy` does.
  const ww = await startWardwatch(config, createLogger({ level: config.logLevel }), ['policy']);
  process.stdout.write(`${JSON.stringify({ url: ww.policy!.url() })}\n`);
  process.once('SIGTERM', async () => {
    await ww.stop();
    process.exit(0);
  });
}

async function seed(schema: string, devices: number): Promise<void> {
  const db = await openDatabase({ kind: 'postgres', url: DATABASE_URL, schema, poolSize: 2 });
  try {
    await migrate(db);
    const t0 = Date.now();
    await seedDevices(db.pool, devices);
    await db.pool.query(
      `INSERT INTO alerts (device_ip, kind, severity, title, first_seen, last_seen)
       SELECT '10.0.0.0'::inet + i, 'new-peer', 'medium', 'new peer', now(), now() FROM generate_series(1, $1::int, 20) AS i`,
      [devices],
    );
    await db.pool.query(
      `INSERT INTO device_profiles (device_ip, peer, service_port, protocol, direction, peer_internal, flows, bytes_out, bytes_in,
         packets, first_seen, last_seen)
       SELECT '10.0.0.0'::inet + i, ('10.200.0.' || p)::cidr, 443, 6, 'outbound', true, 10, 100, 100, 10, now(), now()
       FROM generate_series(1, $1::int, 4) AS i, generate_series(1, 5) AS p`,
      [devices],
    );
    await db.pool.query(
      `INSERT INTO device_baselines (device_ip, metric, slot, n, mean, m2, last_bucket)
       SELECT '10.0.0.0'::inet + i, m, -1, 100, 1000, 5000, now()
       FROM generate_series(1, $1::int, 4) AS i, unnest(ARRAY['bytes_out','bytes_in','flows']) AS m`,
      [devices],
    );
    await db.pool.query('ANALYZE');
    await createApiKey(db.pool, { name: 'bench', role: 'admin', key: KEY });
    console.log(
      `seeded ${devices} devices, alerts, profiles and baselines in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  } finally {
    await db.close();
  }
}

function ipOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** CPU ticks (utime + stime, 1/100 s) of a process, or of every PostgreSQL process; 0 without /proc. */
function cpuTicks(pid: number | 'postgres'): number {
  const ticks = (stat: string) => {
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  try {
    if (pid !== 'postgres') return ticks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    let sum = 0;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (stat.includes(' (postgres) ')) sum += ticks(stat);
      } catch {}
    }
    return sum;
  } catch {
    return 0;
  }
}

async function run(
  url: string,
  title: string,
  path: () => string,
  duration: number,
  connections: number,
  servicePid: number,
) {
  const service0 = cpuTicks(servicePid);
  const pg0 = cpuTicks('postgres');
  const result = await autocannon({
    url,
    connections,
    duration,
    headers: { authorization: `Bearer ${KEY}` },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: path() }) }],
  });
  const non2xx = result.non2xx + result.errors + result.timeouts;
  // CPU per request of the service process and of PostgreSQL (every postgres process on the host): on
  // a shared machine these vary less than the request rate.
  const perRequest = (ticks: number) => Math.round((ticks * 10_000) / Math.max(1, result.requests.total));
  const serviceUs = perRequest(cpuTicks(servicePid) - service0);
  const pgUs = perRequest(cpuTicks('postgres') - pg0);
  console.log(
    `${title.padEnd(16)} rps=${Math.round(result.requests.average)} p50_ms=${result.latency.p50} p99_ms=${result.latency.p99} ` +
      `max_ms=${result.latency.max} requests=${result.requests.total} errors=${non2xx} ` +
      `service_cpu_us=${serviceUs} postgres_cpu_us=${pgUs}`,
  );
  return { ...result, serviceUs, pgUs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    // pnpm passes a literal "--" through to the script.
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      serve: { type: 'string' },
      devices: { type: 'string', default: '100000' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '16' },
      'seed-only': { type: 'string' },
    },
  });
  if (values.serve) return serve(values.serve);
  if (values['seed-only']) return seed(values['seed-only'], Number(values.devices));
  const devices = Number(values.devices);
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const schema = `bench_api_${process.pid}`;
  let child: ChildProcess | undefined;
  try {
    await seed(schema, devices);
    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'bench-api.ts'), '--serve', schema],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let url = '';
    for await (const line of createInterface({ input: child.stdout! })) {
      if (line.startsWith('{"url"')) {
        url = (JSON.parse(line) as { url: string }).url;
        break;
      }
    }
    if (!url) throw new Error('the service did not start');
    console.log(
      `service ${url} (child process), autocannon ${connections} connections x ${duration} s per scenario`,
    );
    // Warm-up: JIT, pool connections, key cache.
    await run(
      url,
      'warm-up',
      () => `/v1/devices/${ipOf(1 + Math.floor(Math.random() * devices))}`,
      3,
      connections,
      child.pid!,
    );
    const list = await run(
      url,
      'filtered-list',
      () => `/v1/devices?class=infusion_pump&minRisk=${50 + Math.floor(Math.random() * 40)}&limit=50`,
      duration,
      connections,
      child.pid!,
    );
    const detail = await run(
      url,
      'device-detail',
      () => `/v1/devices/${ipOf(1 + Math.floor(Math.random() * devices))}`,
      duration,
      connections,
      child.pid!,
    );
    console.log(
      `devices=${devices} connections=${connections} list_rps=${Math.round(list.requests.average)} list_p99_ms=${list.latency.p99} ` +
        `rps=${Math.round(detail.requests.average)} p50_ms=${detail.latency.p50} p99_ms=${detail.latency.p99} ` +
        `service_cpu_us=${detail.serviceUs} postgres_cpu_us=${detail.pgUs} errors=${detail.non2xx + detail.errors + detail.timeouts}`,
    );
  } finally {
    if (child) {
      child.kill('SIGTERM');
      await once(child, 'exit').catch(() => {});
    }
    const db = await openDatabase({ kind: 'postgres', url: DATABASE_URL, schema, poolSize: 1 });
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}", "${reportingSchema(schema)}" CASCADE`);
    await db.close();
  }
}

await main();
