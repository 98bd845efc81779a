// The provisioned Grafana dashboards against the real schema: every dashboard JSON is loaded, its template
// variables are resolved by running their queries, the Grafana macros its SQL uses are expanded the way the
// PostgreSQL data source expands them, and every panel's SQL runs on a freshly migrated schema in the real
// PostgreSQL and must return the columns the panel uses. Prometheus panels must only use metrics that some
// Wardwatch component defines.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Database, migrate, openDatabase } from '@wardwatch/storage';
import { createMetricsRegistry } from '@wardwatch/telemetry';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '@wardwatch/testkit';
import type pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { buildDashboards, POSTGRES, PROMETHEUS } from '../deploy/grafana/build-dashboards.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const GRAFANA = join(ROOT, 'deploy', 'grafana');
const DASHBOARDS = join(GRAFANA, 'dashboards');

type Json = Record<string, unknown>;
interface Target {
  refId: string;
  datasource: { type: string; uid: string };
  rawSql?: string;
  format?: 'time_series' | 'table';
  expr?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  fieldConfig?: { overrides?: Array<{ matcher: { id: string; options: string }; properties: Json[] }> };
  options?: { reduceOptions?: { fields?: string } };
}
interface Variable {
  name: string;
  type: string;
  datasource: { uid: string };
  query: string | Json;
  multi?: boolean;
  includeAll?: boolean;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const loadDashboards = (): Array<[string, Dashboard]> =>
  readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as Dashboard]);

// --- Grafana's PostgreSQL macro and variable expansion --------------------------------------------------

/** The time range and interval a dashboard is rendered with. */
interface Range {
  from: Date;
  to: Date;
  intervalS: number;
}

function intervalSeconds(text: string): number {
  const m = /^'?(\d+)(ms|s|m|h|d)'?$/.exec(text.trim());
  if (!m) throw new Error(`bad interval ${text}`);
  const n = Number(m[1]);
  return { ms: n / 1000, s: n, m: n * 60, h: n * 3600, d: n * 86400 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
}

const rfc3339 = (d: Date) => `'${d.toISOString().replace(/\.\d{3}Z$/, 'Z')}'`;
const sqlString = (v: string) => `'${v.replace(/'/g, "''")}'`;

/** Splits a macro's argument list on top-level commas. */
function macroArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** Template variables, then global variables, then macros (the order Grafana applies them). */
function expand(sql: string, range: Range, vars: Map<string, { values: string[]; multi: boolean }>): string {
  let s = sql.replace(/\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a, format, b, c) => {
    const name = (a ?? b ?? c) as string;
    if (name.startsWith('__')) return whole; // global variables and macros, below
    const v = vars.get(name);
    if (!v) throw new Error(`unknown template variable $${name}`);
    if (format === 'sqlstring' || (format === undefined && v.multi)) return v.values.map(sqlString).join(',');
    if (format === 'csv' || format === undefined) return v.values.join(',');
    if (format === 'raw') return v.values.join(',');
    throw new Error(`unsupported variable format ${format}`);
  });
  const interval = `${range.intervalS}s`;
  s = s.replace(/\$__interval_ms\b/g, String(range.intervalS * 1000)).replace(/\$__interval\b/g, interval);
  const macro = /\$__(\w+)\(([^()]*(?:\([^()]*\)[^()]*)*)\)/g;
  return s.replace(macro, (whole, name: string, argText: string) => {
    const args = macroArgs(argText);
    const col = args[0] ?? '';
    switch (name) {
      case 'timeFilter':
        return `${col} BETWEEN ${rfc3339(range.from)} AND ${rfc3339(range.to)}`;
      case 'timeFrom':
        return rfc3339(range.from);
      case 'timeTo':
        return rfc3339(range.to);
      case 'time':
        return `${col} AS "time"`;
      case 'timeEpoch':
        return `extract(epoch from ${col}) AS "time"`;
      case 'unixEpochFilter':
        return `${col} >= ${Math.floor(+range.from / 1000)} AND ${col} <= ${Math.floor(+range.to / 1000)}`;
      case 'timeGroup':
      case 'timeGroupAlias': {
        const secs = intervalSeconds(args[1] ?? interval);
        const expr = `floor(extract(epoch from ${col})/${secs})*${secs}`;
        return name === 'timeGroupAlias' ? `${expr} AS "time"` : expr;
      }
      default:
        throw new Error(`unsupported Grafana macro ${whole}`);
    }
  });
}

// --- Seed data: a few devices, alerts, rollups, profiles and exporters in the last hours ------------------

async function seed(client: pg.PoolClient): Promise<void> {
  const now = Date.now();
  const ago = (min: number) => new Date(now - min * 60_000);
  const devices = [
    ['10.20.20.13', 'infusion-pump', 'b8:27:eb:00:00:13', 20, 85, true],
    ['10.20.10.12', 'workstation', '02:10:00:00:00:01', 10, 10, false],
    ['10.20.30.11', 'patient-monitor', '02:30:00:00:00:01', 30, 5, false],
    ['10.20.40.11', 'imaging-modality', '02:40:00:00:00:01', 40, 20, false],
  ] as const;
  for (const [i, [ip, cls, mac, vlan, risk, quarantined]] of devices.entries()) {
    await client.query(
      `INSERT INTO devices (ip, first_seen, last_seen, bytes_sent, bytes_received, flows_sent, mac, vlan,
         exporter, input_if, class, class_confidence, class_evidence, risk, quarantined)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0.9, $12, $13, $14)`,
      [
        ip,
        ago(200 - i * 30),
        ago(1),
        1_000_000 * (i + 1),
        50_000,
        100 + i,
        mac,
        vlan,
        i % 2 ? '10.20.0.1' : '10.20.0.2',
        vlan,
        cls,
        JSON.stringify([{ signal: 'peer-port', detail: `${cls} service` }]),
        risk,
        quarantined,
      ],
    );
    for (let m = 1; m <= 30; m++) {
      await client.query(
        `INSERT INTO device_rollups_minute (device_ip, minute, bytes_out, bytes_in, packets_out, packets_in, flows)
         VALUES ($1, date_trunc('minute', $2::timestamptz), $3, $4, 10, 8, 3)`,
        [ip, ago(m), 10_000 * m, 2_000 * m],
      );
    }
    await client.query(
      `INSERT INTO device_profiles (device_ip, peer, service_port, protocol, direction, peer_internal, flows,
         bytes_out, bytes_in, packets, first_seen, last_seen)
       VALUES ($1, '10.20.1.10/32', 443, 6, 'outbound', true, 40, 9000, 6000, 80, $2, $3),
              ($1, '203.0.113.0/24', 443, 6, 'outbound', false, 3, 900000, 2000, 700, $2, $3)`,
      [ip, ago(180), ago(2)],
    );
  }
  const alerts = [
    ['10.20.20.13', 'port-scan', 'high', 'open'],
    ['10.20.20.13', 'exfiltration', 'critical', 'acknowledged'],
    ['10.20.10.12', 'new-external-peer', 'low', 'resolved'],
    ['10.20.40.11', 'internet-contact', 'medium', 'open'],
  ];
  for (const [i, [ip, kind, severity, status]] of alerts.entries()) {
    await client.query(
      `INSERT INTO alerts (device_ip, kind, severity, status, title, first_seen, last_seen)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [ip, kind, severity, status, `${kind} from ${ip}`, ago(90 - i * 10), ago(5)],
    );
  }
  for (const [i, kind] of ['host_scan', 'exfiltration', 'new_peer'].entries()) {
    await client.query(
      `INSERT INTO alert_rollups_minute (minute, kind, severity, count)
       VALUES (date_trunc('minute', $1::timestamptz), $2, 'high', $3)`,
      [ago(20 + i), kind, i + 1],
    );
  }
  await client.query(
    `INSERT INTO quarantines (device_ip, reason, source, created_by, created_at, released_at, released_by)
     VALUES ($1, 'scanning', 'manual', 'soc', $2, $3, 'soc'), ($1, 'exfiltration', 'policy', 'policy', $4, NULL, NULL)`,
    ['10.20.20.13', ago(120), ago(100), ago(30)],
  );
  await client.query(
    `INSERT INTO exporters (address, observation_domain, version, packets, records, records_per_second,
       templates, sequence_lost, sampling_interval, first_seen, last_seen)
     VALUES ('10.20.0.1', 1, 10, 5000, 150000, 420.5, 2, 12, 1, $1, $2),
            ('10.20.0.2', 0, 9, 800, 24000, 66, 1, 0, 1, $1, $3)`,
    [ago(300), ago(0.5), ago(10)],
  );
}

// --- The tests ------------------------------------------------------------------------------------------

const NUMERIC_TYPES = new Set([20, 21, 23, 700, 701, 1700]);
const TIME_TYPES = new Set([1082, 1114, 1184]);

describe('Grafana dashboards', () => {
  let db: Database;
  let schema: string;

  before(async () => {
    schema = uniqueName('grafana');
    db = await openDatabase({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 2 });
    await migrate(db);
    const client = await db.pool.connect();
    try {
      await seed(client);
    } finally {
      client.release();
    }
  });

  after(async () => {
    await db?.close();
    if (schema) await dropSchema(schema);
  });

  test('the committed JSON is what deploy/grafana/build-dashboards.ts builds', () => {
    const built = buildDashboards();
    const files = loadDashboards();
    assert.deepEqual(files.map(([f]) => f).sort(), Object.keys(built).sort());
    for (const [file, json] of files) assert.deepEqual(json, built[file], `${file} is stale: rebuild it`);
  });

  test('the four dashboards are provisioned with unique uids over the provisioned data sources', () => {
    const files = loadDashboards();
    const uids = files.map(([, d]) => d.uid);
    assert.deepEqual(uids.sort(), [
      'wardwatch-device',
      'wardwatch-exporters',
      'wardwatch-fleet',
      'wardwatch-pipeline',
    ]);
    const ds = parseYaml(
      readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'wardwatch.yaml'), 'utf8'),
    ) as {
      datasources: Array<{ uid: string; type: string; jsonData?: Json }>;
    };
    const provisioned = new Map(ds.datasources.map((d) => [d.uid, d.type]));
    assert.equal(provisioned.get(POSTGRES.uid), POSTGRES.type);
    assert.equal(provisioned.get(PROMETHEUS.uid), PROMETHEUS.type);
    for (const [file, d] of files) {
      for (const p of d.panels) {
        for (const t of p.targets ?? []) {
          assert.equal(provisioned.get(t.datasource.uid), t.datasource.type, `${file} / ${p.title}`);
        }
      }
    }
    const provider = parseYaml(
      readFileSync(join(GRAFANA, 'provisioning', 'dashboards', 'wardwatch.yaml'), 'utf8'),
    ) as { providers: Array<{ options: { path: string } }> };
    assert.equal(provider.providers[0]!.options.path, '/var/lib/grafana/dashboards/wardwatch');
  });

  test('panels fit the 24-column grid without overlapping, with unique ids', () => {
    for (const [file, d] of loadDashboards()) {
      const panels = d.panels as Array<Panel & { gridPos: { x: number; y: number; w: number; h: number } }>;
      assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, `${file}: unique panel ids`);
      for (const [i, a] of panels.entries()) {
        assert.ok(
          a.gridPos.x >= 0 && a.gridPos.x + a.gridPos.w <= 24,
          `${file} / ${a.title}: inside the grid`,
        );
        for (const b of panels.slice(i + 1)) {
          const apart =
            a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
            b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
            a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
            b.gridPos.y + b.gridPos.h <= a.gridPos.y;
          assert.ok(apart, `${file}: "${a.title}" overlaps "${b.title}"`);
        }
      }
    }
  });

  test('pipeline health is Prometheus only, and every PostgreSQL dashboard has SQL panels', () => {
    for (const [file, d] of loadDashboards()) {
      const types = new Set(d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.datasource.type)));
      if (d.uid === 'wardwatch-pipeline') assert.deepEqual([...types], [PROMETHEUS.type], file);
      else assert.ok(types.has(POSTGRES.type), file);
    }
  });

  test('every Prometheus panel uses only metrics a Wardwatch component defines', async () => {
    const known = new Set(['up']);
    for (const m of await createMetricsRegistry().getMetricsAsJSON()) known.add(m.name);
    const sources = ['services', 'packages']
      .flatMap((top) =>
        readdirSync(join(ROOT, top), { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith('.ts') && !f.includes('node_modules') && !f.endsWith('.test.ts'))
          .map((f) => join(ROOT, top, f)),
      )
      .map((f) => readFileSync(f, 'utf8'));
    for (const text of sources) for (const m of text.matchAll(/name: '(wardwatch_\w+)'/g)) known.add(m[1]!);
    let checked = 0;
    for (const [file, d] of loadDashboards()) {
      for (const p of d.panels) {
        for (const t of p.targets ?? []) {
          if (t.datasource.uid !== PROMETHEUS.uid) continue;
          for (const m of t.expr!.matchAll(/\b(wardwatch_\w+|up)\b/g)) {
            const name = m[1]!.replace(/_(bucket|sum|count)$/, '');
            assert.ok(known.has(name) || known.has(m[1]!), `${file} / ${p.title}: unknown metric ${m[1]}`);
            checked++;
          }
        }
      }
    }
    assert.ok(checked >= 15, `checked ${checked} metric references`);
  });

  for (const [file, dash] of loadDashboards()) {
    const sqlPanels = dash.panels.filter((p) =>
      (p.targets ?? []).some((t) => t.datasource.uid === POSTGRES.uid),
    );
    if (sqlPanels.length === 0) continue;
    test(`${file}: every panel's SQL runs on the migrated schema and returns the columns it uses`, async () => {
      const range: Range = { from: new Date(Date.now() - 6 * 3600_000), to: new Date(), intervalS: 60 };
      const client = await db.pool.connect();
      try {
        // What the grafana role's search_path gives: the reporting views (deploy/postgres), not the tables.
        await client.query(`SET search_path TO "${schema}_reporting"`);
        // Template variables: run their queries; multi-value variables take every value, others the first.
        const vars = new Map<string, { values: string[]; multi: boolean }>();
        for (const v of dash.templating.list) {
          assert.equal(v.datasource.uid, POSTGRES.uid, `${v.name}: SQL variable`);
          const res = await client.query({ text: v.query as string, rowMode: 'array' });
          const values = res.rows.map((r: unknown[]) => String(r[0]));
          assert.ok(values.length > 0, `variable $${v.name} has values`);
          vars.set(v.name, {
            values: v.multi ? values : values.slice(0, 1),
            multi: Boolean(v.multi || v.includeAll),
          });
        }
        for (const p of sqlPanels) {
          for (const t of p.targets!) {
            const sql = expand(t.rawSql!, range, vars);
            assert.doesNotMatch(sql, /\$__|\$\{|\[\[/, `${p.title}: unexpanded macro or variable`);
            let res: pg.QueryResult;
            try {
              res = await client.query(sql);
            } catch (err) {
              assert.fail(`${file} / ${p.title}: ${(err as Error).message}\n${sql}`);
            }
            const where = `${file} / ${p.title}`;
            const columns = res.fields.map((f) => f.name);
            const typeOf = new Map(res.fields.map((f) => [f.name, f.dataTypeID]));
            assert.ok(res.rows.length > 0, `${where}: no rows on the seeded schema`);
            if (t.format === 'time_series') {
              assert.ok(columns.includes('time'), `${where}: a time series needs a "time" column`);
              const t0 = typeOf.get('time')!;
              assert.ok(NUMERIC_TYPES.has(t0) || TIME_TYPES.has(t0), `${where}: "time" is a time or epoch`);
              for (const c of columns.filter((c) => c !== 'time' && c !== 'metric')) {
                assert.ok(NUMERIC_TYPES.has(typeOf.get(c)!), `${where}: value column ${c} must be numeric`);
              }
            }
            if (p.type === 'stat' || p.type === 'bargauge' || p.type === 'piechart') {
              assert.ok(
                columns.some((c) => NUMERIC_TYPES.has(typeOf.get(c)!)),
                `${where}: a ${p.type} needs a numeric column`,
              );
            }
            // Columns the panel refers to by name: overrides, data links, reduce-field regexes.
            for (const o of p.fieldConfig?.overrides ?? []) {
              if (o.matcher.id === 'byName')
                assert.ok(columns.includes(o.matcher.options), `${where}: ${o.matcher.options}`);
              for (const m of JSON.stringify(o.properties).matchAll(/__data\.fields\.(\w+)/g)) {
                assert.ok(columns.includes(m[1]!), `${where}: link field ${m[1]}`);
              }
            }
            const fields = p.options?.reduceOptions?.fields;
            if (fields) {
              const re = new RegExp(fields.replace(/^\/|\/$/g, ''));
              assert.ok(
                columns.some((c) => re.test(c)),
                `${where}: reduce fields ${fields}`,
              );
            }
          }
        }
      } finally {
        client.release();
      }
    });
  }
});

describe('Grafana macro expansion (as the PostgreSQL data source does it)', () => {
  const range: Range = {
    from: new Date('2026-11-29T06:00:00Z'),
    to: new Date('2026-11-29T12:00:00Z'),
    intervalS: 300,
  };
  const vars = new Map([
    ['class', { values: ['infusion-pump', "o'brien"], multi: true }],
    ['device', { values: ['10.20.20.13'], multi: false }],
  ]);

  test('time filter, groups, from/to and interval', () => {
    assert.equal(
      expand('WHERE $__timeFilter(d.last_seen)', range, vars),
      "WHERE d.last_seen BETWEEN '2026-11-29T06:00:00Z' AND '2026-11-29T12:00:00Z'",
    );
    assert.equal(
      expand('SELECT $__timeGroupAlias(r.minute, $__interval, 0)', range, vars),
      'SELECT floor(extract(epoch from r.minute)/300)*300 AS "time"',
    );
    assert.equal(expand("$__timeGroup(x, '1h')", range, vars), 'floor(extract(epoch from x)/3600)*3600');
    assert.equal(
      expand('$__timeFrom() $__timeTo() $__interval_ms', range, vars),
      "'2026-11-29T06:00:00Z' '2026-11-29T12:00:00Z' 300000",
    );
  });

  test('variables: multi-value quoted, sqlstring escaped, unknown ones refused', () => {
    assert.equal(expand('IN ($class)', range, vars), "IN ('infusion-pump','o''brien')");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not JS
    assert.equal(expand('= ${device:sqlstring}::inet', range, vars), "= '10.20.20.13'::inet");
    assert.equal(expand("= '$device'", range, vars), "= '10.20.20.13'");
    assert.throws(() => expand('$nope', range, vars), /unknown template variable/);
    assert.throws(() => expand('$__timeShift(x)', range, vars), /unsupported Grafana macro/);
  });
});
