// Page times of the SOC console with 100k devices in real PostgreSQL: the policy service serving the
// built console, real headless Chromium (puppeteer-core) loading each page afresh and waiting until it is
// usable (its data drawn). Prints one line per page (median and worst of the runs, in ms) and the
// console's download size (script + style, gzip). Figures, not assertions.
//
//   pnpm bench:console [-- --devices 100000 --runs 5]
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../packages/config/src/index.ts';
import { build as buildConsole } from '../packages/console/build.mjs';
import { CONSOLE_DIST } from '../packages/console/src/index.ts';
import { migrate, openDatabase, reportingSchema } from '../packages/storage/src/index.ts';
import { createLogger, createMetricsRegistry } from '../packages/telemetry/src/index.ts';
import { createPolicyService } from '../services/policy/src/index.ts';
import { launchChromium } from '../test/support/chromium.ts';
import { seedDevices } from './bench-seed.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const KEY = 'bench-console-admin-key-0123456789';

async function seed(db: Awaited<ReturnType<typeof openDatabase>>, devices: number): Promise<void> {
  await migrate(db);
  // Devices over 10.0.0.0/8 with classes, risk, labels and MACs; an alert for one in 20; profiles for a
  // quarter; a day of minute rollups for the device the device page opens.
  await seedDevices(db.pool, devices);
  await db.pool.query(
    `INSERT INTO alerts (device_ip, kind, severity, title, first_seen, last_seen, evidence)
     SELECT '10.0.0.0'::inet + i, 'new_peer', (ARRAY['low','medium','high','critical'])[1 + i % 4], 'new peer', now(), now(),
            '{"peers":[{"peer":"10.200.0.1","bytes":1000,"ports":[443]}]}'::jsonb
     FROM generate_series(1, $1::int, 20) AS i`,
    [devices],
  );
  await db.pool.query(
    `INSERT INTO device_profiles (device_ip, peer, service_port, protocol, direction, peer_internal, flows, bytes_out, bytes_in,
       packets, first_seen, last_seen)
     SELECT '10.0.0.0'::inet + i, ('10.200.0.' || p)::cidr, 443, 6, 'outbound', p < 4, 10, 100 * p, 100, 10, now(), now()
     FROM generate_series(1, $1::int, 4) AS i, generate_series(1, 5) AS p`,
    [devices],
  );
  await db.pool.query(
    `INSERT INTO device_rollups_minute (device_ip, minute, bytes_out, bytes_in, packets_out, packets_in, flows, ext_bytes_out)
     SELECT '10.0.0.1', date_trunc('minute', now()) - m * interval '1 minute', 1000 + m % 60 * 10, 500, 10, 10, 2, 0
     FROM generate_series(0, 1439) AS m`,
  );
  await db.pool.query('ANALYZE');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: { devices: { type: 'string', default: '100000' }, runs: { type: 'string', default: '5' } },
  });
  const devices = Number(values.devices);
  const runs = Number(values.runs);
  await buildConsole();
  let gzip = 0;
  for (const f of ['app.js', 'app.css'])
    gzip += gzipSync(readFileSync(join(CONSOLE_DIST, f)), { level: 9 }).length;

  const schema = `bench_console_${process.pid}`;
  const db = await openDatabase({ kind: 'postgres', url: DATABASE_URL, schema, poolSize: 8 });
  const t0 = Date.now();
  await seed(db, devices);
  console.log(`seeded ${devices} devices in ${Date.now() - t0} ms (schema ${schema})`);
  const config = loadConfig({
    env: {},
    overrides: {
      mode: 'cluster',
      'database.url': DATABASE_URL,
      'database.schema': schema,
      'api.host': '127.0.0.1',
      'api.port': 0,
      'api.bootstrapApiKey': KEY,
      // Cluster mode requires the key that seals webhook secrets; a throwaway one for the run.
      'webhooks.secretKey': randomBytes(32).toString('base64'),
      logLevel: 'warn',
    },
  });
  const service = createPolicyService({
    config,
    db,
    logger: createLogger({ level: 'warn' }),
    registry: createMetricsRegistry(),
  });
  await service.start();
  const base = service.url();
  const { browser, close } = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`${base}/`);
    await page.waitForSelector('input[name=apiKey]');
    await page.type('input[name=apiKey]', KEY);
    await page.click('form[aria-label="Sign in"] button[type=submit]');
    await page.waitForSelector('nav.top');
    const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM alerts ORDER BY id LIMIT 1');
    // Each page, loaded afresh (a full navigation), until the selector showing its data appears.
    const pages: Array<[string, string, string]> = [
      ['overview', '#/overview', '[data-testid=by-class] tr'],
      ['devices (first page)', '#/devices', '[data-testid=devices] tbody tr'],
      ['devices sorted by risk', '#/devices?sort=-risk', '[data-testid=devices] tbody tr'],
      ['devices search (label)', '#/devices?q=device%2099990', '[data-testid=devices] tbody tr'],
      [
        'devices filter (class, open alerts)',
        '#/devices?class=patient_monitor&hasOpenAlerts=true',
        '[data-testid=devices] tbody tr',
      ],
      ['device page (chart drawn)', '#/devices/10.0.0.1', '[data-testid=traffic-chart] canvas'],
      ['alerts queue', '#/alerts', '[data-testid=alerts] tbody tr'],
      ['alert', `#/alerts/${rows[0]!.id}`, '[data-testid=evidence]'],
      ['policies', '#/policies', 'main h1'],
      ['exporters', '#/exporters', '[data-testid=exporters]'],
      ['admin (keys, audit)', '#/admin', '[data-testid=audit]'],
    ];
    console.log(`console download: ${(gzip / 1024).toFixed(1)} KB gzip (script + style)`);
    console.log(`page times, ${runs} fresh loads each, navigation start -> data drawn (ms):`);
    for (const [name, hash, sel] of pages) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        await page.goto('about:blank');
        const start = Date.now();
        await page.goto(`${base}/?run=${i}${hash}`);
        await page.waitForSelector(sel, { timeout: 30_000 });
        times.push(Date.now() - start);
      }
      times.sort((a, b) => a - b);
      console.log(
        `  ${name.padEnd(38)} median ${String(times[Math.floor(times.length / 2)]).padStart(5)}  worst ${String(times.at(-1)).padStart(5)}`,
      );
    }
  } finally {
    await close();
    await service.stop();
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}", "${reportingSchema(schema)}" CASCADE`);
    await db.close();
  }
}

await main();
