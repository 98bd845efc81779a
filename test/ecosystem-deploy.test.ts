// The deployment files, rendered by the real tools and checked object by object: docker-compose.yml through
// `docker-compose config` (validates without a Docker engine), deploy/k8s through `kubectl kustomize`
// (renders offline), the Dockerfile's targets, and the Prometheus scrape configuration.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@wardwatch/config';
import { ensureTool } from '@wardwatch/testkit';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVICES = ['collector', 'analytics', 'policy'] as const;

type Json = Record<string, unknown>;
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; target: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: Array<string | { target: number; published: number | string; protocol: string }>;
  healthcheck?: { test: string[] };
  volumes?: Array<string | { source: string; target: string; type: string }>;
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const composeCache = new Map<string, Record<string, ComposeService>>();
/** Values for the secrets docker-compose.yml requires (`${VAR:?…}`); test values, not credentials. */
const COMPOSE_SECRETS = {
  WARDWATCH_DB_PASSWORD: 'test-db-password',
  WARDWATCH_ANALYTICS_DB_PASSWORD: 'test-analytics-db-password',
  WARDWATCH_POLICY_DB_PASSWORD: 'test-policy-db-password',
  GRAFANA_DB_PASSWORD: 'test-grafana-db-password',
  GRAFANA_ADMIN_PASSWORD: 'test-grafana-admin-password',
  WARDWATCH_API_KEY: 'test-admin-api-key-0123456789',
  WARDWATCH_WEBHOOK_SECRET_KEY: 'test-webhook-secret-key-0123456789',
  WARDWATCH_EXPORTER_ALLOWLIST: '192.0.2.0/24',
};

function compose(...profiles: string[]): Record<string, ComposeService> {
  const cached = composeCache.get(profiles.join(','));
  if (cached) return structuredClone(cached);
  ensureTool('docker-compose');
  const args = [
    ...profiles.flatMap((p) => ['--profile', p]),
    '-f',
    join(ROOT, 'docker-compose.yml'),
    'config',
  ];
  // A clean environment plus the secrets an operator must set (the file has no defaults for them).
  const out = execFileSync('docker-compose', args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...COMPOSE_SECRETS },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const services = (parseYaml(out) as { services: Record<string, ComposeService> }).services;
  composeCache.set(profiles.join(','), services);
  return structuredClone(services);
}

/** Values for the variables deploy/docker/kafka-sasl-ssl.yml requires on top: the SCRAM users' passwords. */
const KAFKA_SECRETS = {
  WARDWATCH_KAFKA_COLLECTOR_PASSWORD: 'test-kafka-collector-password',
  WARDWATCH_KAFKA_ANALYTICS_PASSWORD: 'test-kafka-analytics-password',
  WARDWATCH_KAFKA_POLICY_PASSWORD: 'test-kafka-policy-password',
};

/** docker-compose.yml with the SASL_SSL override, resolved by `docker-compose config`. */
function composeSaslSsl(env: Record<string, string> = { ...COMPOSE_SECRETS, ...KAFKA_SECRETS }) {
  ensureTool('docker-compose');
  const files = ['docker-compose.yml', 'deploy/docker/kafka-sasl-ssl.yml'].flatMap((f) => [
    '-f',
    join(ROOT, f),
  ]);
  const out = execFileSync('docker-compose', [...files, 'config'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (parseYaml(out) as { services: Record<string, ComposeService & { entrypoint?: string[] }> })
    .services;
}

function kustomize(dir: string): Json[] {
  ensureTool('kubectl');
  const out = execFileSync('kubectl', ['kustomize', join(ROOT, 'deploy', 'k8s', dir)], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJSON() as Json);
}

/** The environment variables packages/config reads (its ENV table), plus the file override. */
function configEnvNames(): Set<string> {
  const text = readFileSync(join(ROOT, 'packages', 'config', 'src', 'load.ts'), 'utf8');
  const names = new Set(['WARDWATCH_CONFIG']);
  for (const m of text.matchAll(/\[\s*'([A-Z][A-Z0-9_]+)',\s*\[/g)) names.add(m[1]!);
  return names;
}

/**
 * Env names a Wardwatch container may carry: config variables, the standard OpenTelemetry ones, and
 * Node's own (the collector's V8 flags).
 */
function assertKnownEnv(where: string, names: Iterable<string>): void {
  const known = configEnvNames();
  for (const n of names) {
    assert.ok(
      known.has(n) || n.startsWith('OTEL_') || n === 'NODE_ENV' || n === 'NODE_OPTIONS',
      `${where}: unknown variable ${n}`,
    );
  }
}

/** The values must pass packages/config validation too: a known name with a bad value stops the service. */
function assertValidEnv(where: string, env: Record<string, string>): void {
  assert.doesNotThrow(() => loadConfig({ env }), `${where}: its environment is not a valid configuration`);
}

/** `ENV A=1 B=2` lines (with continuations) of one Dockerfile stage, as name -> value. */
function dockerfileEnv(stage: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of stage.replace(/\\\n\s*/g, ' ').matchAll(/^ENV (.+)$/gm)) {
    for (const kv of m[1]!.trim().split(/\s+/)) {
      const i = kv.indexOf('=');
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
  }
  return env;
}

/** Container path -> host path of a service's bind mounts (`config` writes them as "src:dst[:mode]"). */
function mountsOf(s: ComposeService): Map<string, string> {
  return new Map(
    (s.volumes ?? []).map((v) =>
      typeof v === 'string' ? [v.split(':')[1]!, v.split(':')[0]!] : [v.target, v.source],
    ),
  );
}

function portsOf(s: ComposeService): string[] {
  return (s.ports ?? []).map((p) =>
    typeof p === 'string' ? p : `${p.published}:${p.target}/${p.protocol ?? 'tcp'}`,
  );
}

describe('docker-compose.yml', () => {
  test('requires an exporter allowlist: no open default for the collectors', () => {
    ensureTool('docker-compose');
    const { WARDWATCH_EXPORTER_ALLOWLIST: _, ...rest } = COMPOSE_SECRETS;
    assert.throws(
      () =>
        execFileSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...rest },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      /WARDWATCH_EXPORTER_ALLOWLIST/,
    );
    for (const name of ['collector-1', 'collector-2', 'policy'])
      assert.equal(compose()[name]?.environment?.WARDWATCH_EXPORTER_ALLOWLIST, '192.0.2.0/24', name);
  });

  test('validates, and runs the whole stack by default; otel and demo only with their profiles', () => {
    // docker-compose v1 `config` lists every service, with its profiles; `up` starts those without.
    const all = compose('otel', 'demo');
    const byDefault = Object.entries(all)
      .filter(([, s]) => !s.profiles)
      .map(([n]) => n)
      .sort();
    assert.deepEqual(byDefault, [
      'analytics-1',
      'analytics-2',
      'collector-1',
      'collector-2',
      'grafana',
      'kafka',
      'migrate',
      'migrate-roles',
      'policy',
      'postgres',
      'prometheus',
    ]);
    assert.deepEqual(all.simulator!.profiles, ['demo']);
    assert.deepEqual(all['otel-collector']!.profiles, ['otel']);
    assert.deepEqual(all.jaeger!.profiles, ['otel']);
    assert.equal(Object.keys(all).length, byDefault.length + 3);
  });

  test('every Wardwatch service runs its CLI service in cluster mode, with a health check', () => {
    const s = compose('demo');
    for (const [name, svc] of Object.entries(s)) {
      const service = name.replace(/-\d+$/, '');
      if (!(SERVICES as readonly string[]).includes(service)) continue;
      assert.deepEqual(svc.command, ['start', '--service', service], name);
      assert.equal(svc.build?.target, service, `${name}: image built from its own Dockerfile target`);
      const env = svc.environment!;
      assert.equal(env.WARDWATCH_MODE, 'cluster', name);
      if (service === 'collector') assert.equal(env.DATABASE_URL, undefined, `${name} needs no database`);
      else
        assert.match(
          env.DATABASE_URL!,
          new RegExp(`^postgres://wardwatch_${service}:[^@]+@postgres:5432/wardwatch$`),
          `${name} connects with its own role`,
        );
      assert.equal(env.KAFKA_BROKERS, 'kafka:9092', name);
      assertKnownEnv(name, Object.keys(env));
      assertValidEnv(name, env);
      assert.ok(svc.healthcheck?.test.join(' ').includes('/healthz'), `${name}: health check`);
      assert.equal(svc.depends_on?.kafka?.condition, 'service_healthy', name);
      assert.equal(svc.depends_on?.postgres?.condition, 'service_healthy', name);
    }
    assert.equal(
      s['analytics-1']!.environment!.WARDWATCH_ANALYTICS_GROUP,
      s['analytics-2']!.environment!.WARDWATCH_ANALYTICS_GROUP,
    );
    assert.equal(s.simulator!.command![0], 'simulate');
    // The options parse: the same command with --list prints the scenario instead of sending.
    const listed = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'cli/src/main.ts', ...s.simulator!.command!, '--list'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.ok(
      (JSON.parse(listed) as { devices: unknown[] }).devices.length > 10,
      'the simulator command is valid',
    );
    assert.ok(s.simulator!.command!.includes('collector-1:2055'), 'the simulator sends to collector-1');
  });

  test('collectors publish NetFlow/IPFIX ports without clashing; the API and Grafana are reachable', () => {
    const s = compose();
    assert.deepEqual(portsOf(s['collector-1']!).sort(), [
      '2055:2055/udp',
      '4739:4739/tcp',
      '4739:4739/udp',
      '6343:6343/udp',
    ]);
    assert.deepEqual(portsOf(s['collector-2']!).sort(), [
      '2056:2055/udp',
      '4740:4739/tcp',
      '4740:4739/udp',
      '6344:6343/udp',
    ]);
    assert.deepEqual(portsOf(s.policy!), ['8080:8080/tcp']);
    assert.deepEqual(portsOf(s.grafana!), ['3000:3000/tcp']);
    const published = Object.values(s)
      .flatMap(portsOf)
      .map((p) => `${p.split(':')[0]}/${p.split('/')[1]}`);
    assert.equal(new Set(published).size, published.length, 'no host port published twice');
  });

  test('Grafana gets the provisioning and dashboards that exist in the repository', () => {
    const g = compose().grafana!;
    const mounts = mountsOf(g);
    const provisioning = mounts.get('/etc/grafana/provisioning')!;
    const dashboards = mounts.get('/var/lib/grafana/dashboards/wardwatch')!;
    assert.ok(existsSync(join(provisioning, 'datasources', 'wardwatch.yaml')), 'provisioning mounted');
    assert.ok(existsSync(join(dashboards, 'fleet-overview.json')), 'dashboards mounted');
    // Every ${VAR} in the data source file is set on the container.
    const ds = readFileSync(join(provisioning, 'datasources', 'wardwatch.yaml'), 'utf8');
    for (const m of ds.matchAll(/\$\{(\w+)\}/g)) assert.ok(g.environment?.[m[1]!], `grafana env ${m[1]}`);
    const init = mountsOf(compose().postgres!).get('/docker-entrypoint-initdb.d');
    assert.ok(init && existsSync(join(init, '10-grafana-role.sh')), 'the PostgreSQL init script is mounted');
  });

  test('each service connects with its own PostgreSQL role; only the migrate steps hold the owner password', () => {
    const s = compose('otel', 'demo');
    const sql = readFileSync(join(ROOT, 'deploy', 'postgres', 'service-roles.sql'), 'utf8');
    const defaultRole = (v: string) => new RegExp(`\\\\set ${v} (\\w+)`).exec(sql)![1];
    for (const [name, svc] of Object.entries(s)) {
      const service = name.replace(/-\d+$/, '');
      if (service !== 'analytics' && service !== 'policy') continue;
      const env = svc.environment!;
      const url = new URL(env.DATABASE_URL!);
      // The role service-roles.sql makes for it, with the password the roles step gives that role.
      assert.equal(url.username, defaultRole(`${service}_role`), name);
      const pwVar =
        service === 'analytics' ? 'WARDWATCH_ANALYTICS_DB_PASSWORD' : 'WARDWATCH_POLICY_DB_PASSWORD';
      assert.equal(decodeURIComponent(url.password), COMPOSE_SECRETS[pwVar], name);
      assert.equal(
        s['migrate-roles']!.environment![pwVar],
        COMPOSE_SECRETS[pwVar],
        `migrate-roles sets ${pwVar}`,
      );
      assert.equal(loadConfig({ env }).database.migrate, false, `${name} does not migrate`);
      assert.equal(svc.depends_on?.['migrate-roles']?.condition, 'service_completed_successfully', name);
    }
    const holders = Object.entries(s)
      .filter(([, svc]) =>
        Object.values(svc.environment ?? {}).some((v) =>
          String(v).includes(COMPOSE_SECRETS.WARDWATCH_DB_PASSWORD),
        ),
      )
      .map(([n]) => n)
      .sort();
    assert.deepEqual(holders, ['migrate', 'migrate-roles', 'postgres']);
    // The owner migrates, then the roles script runs as the owner, from the repository's file.
    const migrate = s.migrate!;
    assert.deepEqual(migrate.command, ['migrate']);
    assert.equal(
      new URL(migrate.environment!.DATABASE_URL!).username,
      s.postgres!.environment!.POSTGRES_USER,
    );
    assertValidEnv('migrate', migrate.environment!);
    const roles = s['migrate-roles']!;
    assert.equal(roles.depends_on?.migrate?.condition, 'service_completed_successfully');
    assert.equal(roles.environment!.PGUSER, s.postgres!.environment!.POSTGRES_USER);
    const script = (roles as { entrypoint?: string[] }).entrypoint!.at(-1)!;
    assert.equal(readFileSync(mountsOf(roles).get(script)!, 'utf8'), sql);
  });

  test('a missing service role password stops docker-compose', () => {
    for (const v of ['WARDWATCH_ANALYTICS_DB_PASSWORD', 'WARDWATCH_POLICY_DB_PASSWORD']) {
      const rest = Object.fromEntries(Object.entries(COMPOSE_SECRETS).filter(([k]) => k !== v));
      assert.throws(
        () =>
          execFileSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], {
            cwd: ROOT,
            encoding: 'utf8',
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...rest },
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
        new RegExp(v),
      );
    }
  });

  test('Prometheus scrapes every collector, analytics worker and the API on their ops ports', () => {
    const s = compose();
    const prom = parseYaml(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = new Map(
      prom.scrape_configs.map((c) => [c.job_name, c.static_configs.flatMap((x) => x.targets)]),
    );
    for (const [name, svc] of Object.entries(s)) {
      const service = name.replace(/-\d+$/, '');
      const env = svc.environment ?? {};
      const port =
        service === 'collector'
          ? env.WARDWATCH_COLLECTOR_HTTP_PORT
          : service === 'analytics'
            ? env.WARDWATCH_ANALYTICS_HTTP_PORT
            : service === 'policy'
              ? env.WARDWATCH_API_PORT
              : undefined;
      if (port === undefined) continue;
      assert.ok(targets.get(`wardwatch-${service}`)?.includes(`${name}:${port}`), `scrapes ${name}:${port}`);
    }
    // The scrape credential is a file the operator writes (gitignored: no key in the repository).
    assert.ok(
      mountsOf(s.prometheus!).get('/etc/prometheus/wardwatch-api-key')?.endsWith('deploy/prometheus/api-key'),
      'Prometheus reads its API key from deploy/prometheus/api-key',
    );
    assert.ok(
      readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n').includes('deploy/prometheus/api-key'),
    );
    assert.equal(s.policy!.environment!.WARDWATCH_BOOTSTRAP_API_KEY, COMPOSE_SECRETS.WARDWATCH_API_KEY);
  });
});

describe('deploy/docker/kafka-sasl-ssl.yml (compose with Kafka over SASL_SSL)', () => {
  test("every Kafka client uses TLS with the operator's CA and a SCRAM-SHA-512 user of its service", () => {
    const s = composeSaslSsl();
    const broker = s.kafka!.environment!;
    let clients = 0;
    for (const [name, svc] of Object.entries(s)) {
      const env = svc.environment ?? {};
      if (!env.KAFKA_BROKERS) continue;
      clients++;
      const service = name.replace(/-\d+$/, '');
      assert.equal(env.WARDWATCH_KAFKA_TLS, 'true', name);
      assert.equal(env.WARDWATCH_KAFKA_SASL_MECHANISM, 'scram-sha-512', name);
      assert.equal(env.WARDWATCH_KAFKA_SASL_USERNAME, `wardwatch-${service}`, `${name}: its own user`);
      const pwVar = `WARDWATCH_KAFKA_${service.toUpperCase()}_PASSWORD` as keyof typeof KAFKA_SECRETS;
      assert.equal(env.WARDWATCH_KAFKA_SASL_PASSWORD, KAFKA_SECRETS[pwVar], name);
      assert.equal(
        broker[`KAFKA_${service.toUpperCase()}_PASSWORD`],
        KAFKA_SECRETS[pwVar],
        `broker knows ${name}'s user`,
      );
      const ca = mountsOf(svc).get(env.WARDWATCH_KAFKA_CA_FILE!);
      assert.ok(
        ca?.endsWith('/deploy/docker/kafka-certs/ca.pem'),
        `${name}: the CA from the operator's directory`,
      );
      assertKnownEnv(name, Object.keys(env));
      assertValidEnv(name, env);
    }
    assert.equal(clients, 5, 'two collectors, two analytics workers, the API');
    assert.ok(
      readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n').includes('deploy/docker/kafka-certs/'),
    );
  });

  test('the broker listens beyond loopback only with SASL_SSL, and creates the users the services log in as', () => {
    const s = composeSaslSsl();
    const kafka = s.kafka!;
    const script = kafka.entrypoint!.at(-1)!;
    const file = mountsOf(kafka).get(script)!;
    assert.equal(file, join(ROOT, 'deploy', 'docker', 'kafka-sasl-ssl.sh'));
    execFileSync('sh', ['-n', file]);
    const text = readFileSync(file, 'utf8');
    const prop = (k: string) => new RegExp(`^${k.replace(/\./g, '\\.')}=(.*)$`, 'm').exec(text)![1]!;
    const protocols = new Map(
      prop('listener.security.protocol.map')
        .split(',')
        .map((p) => p.split(':') as [string, string]),
    );
    for (const l of prop('listeners').split(',')) {
      const [, listener, host, port] = /^(\w+):\/\/([^:]*):(\d+)$/.exec(l)!;
      if (host !== '127.0.0.1')
        assert.equal(
          protocols.get(listener!),
          'SASL_SSL',
          `${l}: reachable from other containers, so SASL_SSL`,
        );
      else assert.notEqual(port, '9092');
    }
    assert.equal(prop('sasl.enabled.mechanisms'), 'SCRAM-SHA-512');
    const advertised = prop('advertised.listeners')
      .split(',')
      .find((l) => l.startsWith('SASL_SSL://'))!;
    assert.equal(
      advertised.slice('SASL_SSL://'.length),
      s.policy!.environment!.KAFKA_BROKERS,
      'clients reach it',
    );
    for (const service of ['collector', 'analytics', 'policy']) {
      assert.match(
        text,
        new RegExp(
          `SCRAM-SHA-512=\\[name=wardwatch-${service},password=\\$\\{KAFKA_${service.toUpperCase()}_PASSWORD:\\?\\}\\]`,
        ),
        `the ${service} user is created`,
      );
    }
    assert.match(kafka.healthcheck!.test.join(' '), /127\.0\.0\.1:9094/, 'probes the loopback listener');
    assert.ok(
      mountsOf(kafka)
        .get('/etc/kafka/wardwatch-certs/broker-key.pem')
        ?.endsWith('kafka-certs/broker-key.pem'),
    );
  });

  test('a missing SCRAM password stops docker-compose', () => {
    for (const v of Object.keys(KAFKA_SECRETS)) {
      const env = Object.fromEntries(
        Object.entries({ ...COMPOSE_SECRETS, ...KAFKA_SECRETS }).filter(([k]) => k !== v),
      );
      assert.throws(() => composeSaslSsl(env), new RegExp(v));
    }
  });
});

test('docker-compose.yml: the OpenTelemetry collector pipelines use defined parts and reach Jaeger', () => {
  const s = compose('otel');
  const mount = mountsOf(s['otel-collector']!).get('/etc/otelcol/config.yaml')!;
  const otel = parseYaml(readFileSync(mount, 'utf8')) as {
    receivers: Json;
    processors: Json;
    exporters: Record<string, { endpoint?: string }>;
    service: {
      pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
    };
  };
  for (const [name, p] of Object.entries(otel.service.pipelines)) {
    for (const r of p.receivers) assert.ok(r in otel.receivers, `${name}: receiver ${r}`);
    for (const x of p.processors) assert.ok(x in otel.processors, `${name}: processor ${x}`);
    for (const e of p.exporters) assert.ok(e in otel.exporters, `${name}: exporter ${e}`);
  }
  assert.equal(otel.exporters['otlp/jaeger']!.endpoint, 'jaeger:4317');
  // The services send to it: OTLP over HTTP on 4318.
  assert.equal(s['collector-1']!.environment!.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector:4318');
});

describe('deploy/docker/Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'deploy', 'docker', 'Dockerfile'), 'utf8');
  const stages = new Map<string, string>();
  for (const part of text.split(/^(?=FROM )/m).slice(1)) {
    const m = /^FROM \S+ AS (\S+)/.exec(part);
    if (m) stages.set(m[1]!, part);
  }

  test('one multi-stage target per service, non-root, each with a health check and its command', () => {
    assert.ok(stages.has('build') && stages.has('runtime'), 'build and runtime stages');
    assert.match(stages.get('runtime')!, /^USER node$/m);
    assert.doesNotMatch(text, /^USER root$/m);
    for (const s of [...SERVICES, 'simulator']) {
      const stage = stages.get(s);
      assert.ok(stage, `target ${s}`);
      assert.match(stage, /^FROM runtime AS /, `${s} builds on the non-root runtime`);
      assert.match(stage, /^HEALTHCHECK /m, `${s} health check`);
      assert.match(stage, /^CMD \[/m, `${s} command`);
    }
    for (const [s, port] of [
      ['collector', 9102],
      ['analytics', 9103],
      ['policy', 8080],
    ] as const) {
      assert.match(stages.get(s)!, new RegExp(`127\\.0\\.0\\.1:${port}/healthz`), `${s} probes its ops port`);
    }
  });

  test('the environment each service image sets is known to packages/config and valid', () => {
    const runtime = dockerfileEnv(stages.get('runtime')!);
    for (const s of SERVICES) {
      const env = { ...runtime, ...dockerfileEnv(stages.get(s)!) };
      assertKnownEnv(`Dockerfile ${s}`, Object.keys(env));
      assertValidEnv(`Dockerfile ${s}`, env);
    }
  });

  test('the files it copies and runs exist', () => {
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) assert.ok(existsSync(join(ROOT, src)), `COPY ${src}`);
    }
  });

  test('the entry point runs the bundle the build stage makes, under plain Node', () => {
    assert.match(stages.get('build')!, /node scripts\/wardwatch\.mjs --build$/m, 'the build stage bundles');
    // What that RUN line does, here (a no-op when the bundle is fresh); then the image's entry point with
    // its default command, without any TypeScript loader.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'wardwatch.mjs'), '--build'], { cwd: ROOT });
    const [node, ...args] = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(text)![1]!) as string[];
    assert.equal(node, 'node');
    assert.ok(!args.includes('tsx'), 'no tsx at run time');
    for (const arg of args.filter((a) => a.endsWith('.mjs'))) assert.ok(existsSync(join(ROOT, arg)), arg);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(stages.get('runtime')!)![1]!) as string[];
    const out = execFileSync(process.execPath, [...args, ...cmd], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        WARDWATCH_MODE: 'cluster',
        DATABASE_URL: 'postgres://db/wardwatch',
        // What the compose file and the k8s base set for the API behind a proxy.
        WARDWATCH_API_INSECURE_HTTP: 'true',
      },
    });
    assert.equal((JSON.parse(out.toString()) as { ok: boolean }).ok, true);
  });
});

describe('deploy/k8s (kubectl kustomize)', () => {
  type Container = {
    name: string;
    args: string[];
    env?: Array<{ name: string; value?: string; valueFrom?: Json }>;
    envFrom?: Array<{ configMapRef: { name: string } }>;
    ports: Array<{ name: string; containerPort: number; protocol: string }>;
    readinessProbe?: { httpGet: { path: string; port: string } };
    livenessProbe?: { httpGet: { path: string; port: string } };
    resources?: Json;
    securityContext?: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean };
  };
  const find = (docs: Json[], kind: string, name: string) =>
    docs.find((d) => d.kind === kind && (d.metadata as Json).name === name) as Json | undefined;
  const containerOf = (dep: Json) =>
    ((dep.spec as Json).template as { spec: { containers: Container[]; securityContext: Json } }).spec;

  for (const overlay of ['overlays/external', 'overlays/operators']) {
    test(`${overlay}: three hardened Deployments with probes, in one namespace`, () => {
      const docs = kustomize(overlay);
      for (const d of docs) {
        if (d.kind !== 'Namespace') assert.equal((d.metadata as Json).namespace, 'wardwatch', `${d.kind}`);
      }
      const cm = docs.find(
        (d) => d.kind === 'ConfigMap' && String((d.metadata as Json).name).startsWith('wardwatch-env'),
      );
      const env = cm!.data as Record<string, string>;
      assert.equal(env.WARDWATCH_MODE, 'cluster');
      assertKnownEnv('ConfigMap', Object.keys(env));
      for (const service of SERVICES) {
        const c = containerOf(find(docs, 'Deployment', `wardwatch-${service}`)!).containers[0]!;
        // Values from ConfigMaps and fields are resolved by Kubernetes and left out; a Secret's (a password,
        // a URL) is there, with a stand-in value, so settings that need it (kafka.sasl) are complete.
        const literal = Object.fromEntries(
          (c.env ?? []).flatMap((e) =>
            e.value !== undefined
              ? [[e.name, e.value]]
              : (e.valueFrom as Json | undefined)?.secretKeyRef
                ? [[e.name, `resolved-by-kubernetes-${e.name.toLowerCase()}`]]
                : [],
          ),
        );
        assertValidEnv(`${overlay} ${service}`, { ...env, ...literal });
      }
      for (const service of SERVICES) {
        const dep = find(docs, 'Deployment', `wardwatch-${service}`);
        assert.ok(dep, `Deployment wardwatch-${service}`);
        const spec = containerOf(dep);
        assert.equal(spec.securityContext.runAsNonRoot, true);
        const c = spec.containers[0]!;
        assert.deepEqual(c.args, ['start', '--service', service]);
        assert.match(
          c.envFrom![0]!.configMapRef.name,
          /^wardwatch-env/,
          'the generated ConfigMap, hash suffixed',
        );
        assertKnownEnv(
          service,
          (c.env ?? []).map((e) => e.name),
        );
        assert.equal(c.readinessProbe?.httpGet.path, '/readyz');
        assert.equal(c.livenessProbe?.httpGet.path, '/healthz');
        const probePort = c.ports.find((p) => p.name === c.readinessProbe!.httpGet.port);
        assert.ok(probePort, `${service}: the probe port is a declared port`);
        const portVar = {
          collector: 'WARDWATCH_COLLECTOR_HTTP_PORT',
          analytics: 'WARDWATCH_ANALYTICS_HTTP_PORT',
          policy: 'WARDWATCH_API_PORT',
        }[service];
        assert.equal(
          c.env!.find((e) => e.name === portVar)?.value,
          String(probePort.containerPort),
          `${service} listens where probed`,
        );
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
        assert.ok(c.resources, `${service} resources`);
        const db = c.env?.find((e) => e.name === 'DATABASE_URL');
        if (service === 'collector') assert.equal(db, undefined, 'the collector needs no database');
        else assert.ok(db?.valueFrom, `${service} reads DATABASE_URL from a Secret`);
      }
    });

    test(`${overlay}: collectors behind a UDP load balancer that keeps one exporter on one collector`, () => {
      const docs = kustomize(overlay);
      const svc = find(docs, 'Service', 'wardwatch-collector')!.spec as {
        type: string;
        sessionAffinity: string;
        externalTrafficPolicy: string;
        sessionAffinityConfig: { clientIP: { timeoutSeconds: number } };
        ports: Array<{ port: number; protocol: string; targetPort: string }>;
      };
      assert.equal(svc.type, 'LoadBalancer');
      assert.equal(svc.sessionAffinity, 'ClientIP');
      assert.equal(svc.sessionAffinityConfig.clientIP.timeoutSeconds, 86400);
      assert.equal(svc.externalTrafficPolicy, 'Local', 'exporter source addresses preserved');
      const udp = svc.ports.filter((p) => p.protocol === 'UDP').map((p) => p.port);
      assert.deepEqual(udp.sort(), [2055, 4739, 6343]);
      const c = containerOf(find(docs, 'Deployment', 'wardwatch-collector')!).containers[0]!;
      for (const p of svc.ports) {
        const target = c.ports.find((x) => x.name === p.targetPort);
        assert.equal(target?.protocol, p.protocol, `port ${p.targetPort}`);
      }
      const udpPorts = c.env!.find((e) => e.name === 'WARDWATCH_UDP_PORTS')!.value!;
      assert.deepEqual(udpPorts.split(',').map(Number), [2055, 4739, 6343]);
    });

    test(`${overlay}: each service on its own database role; only the migrate Job has the owner's Secret`, () => {
      const docs = kustomize(overlay);
      const secretName = (e: { valueFrom?: Json } | undefined) =>
        String((e?.valueFrom as { secretKeyRef?: { name: string } } | undefined)?.secretKeyRef?.name);
      const job = find(docs, 'Job', 'wardwatch-migrate');
      assert.ok(job, 'a migrate Job');
      const spec = (job.spec as { template: { spec: Json } }).template.spec as {
        initContainers: Container[];
        containers: Array<
          Container & { command: string[]; volumeMounts: Array<{ name: string; mountPath: string }> }
        >;
        volumes: Array<{ name: string; configMap?: { name: string } }>;
        securityContext: Json;
      };
      assert.equal(spec.securityContext.runAsNonRoot, true);
      const [migrate] = spec.initContainers;
      assert.deepEqual(migrate!.args, ['migrate'], 'the owner migrates first');
      const ownerSecret = secretName(migrate!.env!.find((e) => e.name === 'DATABASE_URL'));
      const [roles] = spec.containers;
      assert.equal(secretName(roles!.env!.find((e) => e.name === 'DATABASE_URL')), ownerSecret);
      // then psql runs service-roles.sql, mounted from a ConfigMap holding the repository's file.
      const script = roles!.command.at(-1)!;
      const mount = roles!.volumeMounts.find((m) => script.startsWith(`${m.mountPath}/`))!;
      const cmName = spec.volumes.find((v) => v.name === mount.name)!.configMap!.name;
      const cm = find(docs, 'ConfigMap', cmName)!;
      const sql = readFileSync(join(ROOT, 'deploy', 'postgres', 'service-roles.sql'), 'utf8');
      assert.equal((cm.data as Record<string, string>)[script.slice(mount.mountPath.length + 1)], sql);
      assert.equal(roles!.command[0], 'psql');
      assertKnownEnv(
        'migrate',
        migrate!.env!.map((e) => e.name),
      );

      for (const service of ['analytics', 'policy']) {
        const c = containerOf(find(docs, 'Deployment', `wardwatch-${service}`)!).containers[0]!;
        assert.equal(c.env!.find((e) => e.name === 'WARDWATCH_DB_MIGRATE')?.value, 'false', service);
        const own = secretName(c.env!.find((e) => e.name === 'DATABASE_URL'));
        assert.notEqual(own, ownerSecret, `${service} does not read the owner's Secret`);
        // The roles step gives the role the password of the service's own Secret.
        const pw = roles!.env!.find((e) => e.name === `WARDWATCH_${service.toUpperCase()}_DB_PASSWORD`);
        assert.equal(secretName(pw), own, `${service}: LOGIN with its Secret's password`);
        const secret = find(docs, 'Secret', own);
        if (secret) {
          const data = secret.data as Record<string, string>;
          const b64 = (k: string) => Buffer.from(data[k]!, 'base64').toString('utf8');
          const url = new URL(b64('url'));
          assert.equal(url.username, `wardwatch_${service}`, `${service}: its URL names its own role`);
          assert.equal(decodeURIComponent(url.password), b64('password'));
        }
      }
      // No other workload sees the owner's Secret.
      for (const d of docs.filter((x) =>
        ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(String(x.kind)),
      )) {
        const uses = JSON.stringify(d.spec).includes(`"name":"${ownerSecret}"`);
        assert.equal(
          uses,
          d === job,
          `${d.kind} ${(d.metadata as Json).name}: owner Secret ${uses ? 'used' : 'unused'}`,
        );
      }
    });

    test(`${overlay}: analytics workers scale up to the flows-v1 partition count`, () => {
      const docs = kustomize(overlay);
      const cm = docs.find(
        (d) => d.kind === 'ConfigMap' && String((d.metadata as Json).name).startsWith('wardwatch-env'),
      );
      const partitions = Number((cm!.data as Json).WARDWATCH_FLOW_PARTITIONS);
      const hpa = find(docs, 'HorizontalPodAutoscaler', 'wardwatch-analytics')!.spec as {
        maxReplicas: number;
        minReplicas: number;
        scaleTargetRef: { name: string };
      };
      assert.equal(hpa.scaleTargetRef.name, 'wardwatch-analytics');
      assert.equal(hpa.maxReplicas, partitions);
      assert.ok(hpa.minReplicas >= 2, 'at least two workers');
      const group = containerOf(find(docs, 'Deployment', 'wardwatch-analytics')!).containers[0]!.env!.find(
        (e) => e.name === 'WARDWATCH_ANALYTICS_GROUP',
      );
      assert.equal(group?.value, 'wardwatch-analytics', 'one consumer group for every worker');
    });
  }

  test('overlays/operators: Strimzi topics and a CloudNativePG cluster the services are wired to', () => {
    const docs = kustomize('overlays/operators');
    const cm = docs.find(
      (d) => d.kind === 'ConfigMap' && String((d.metadata as Json).name).startsWith('wardwatch-env'),
    );
    const data = cm!.data as Record<string, string>;
    const kafka = find(docs, 'Kafka', 'wardwatch-kafka')!;
    assert.equal(kafka.apiVersion, 'kafka.strimzi.io/v1beta2');
    // The bootstrap Service's port is the one listener: TLS with SCRAM-SHA-512 (no plaintext listener).
    const listeners = ((kafka.spec as Json).kafka as { listeners: Array<Json> }).listeners;
    assert.deepEqual(
      listeners.map((l) => [l.port, l.tls, (l.authentication as Json | undefined)?.type]),
      [[9093, true, 'scram-sha-512']],
    );
    assert.equal(data.KAFKA_BROKERS, 'wardwatch-kafka-kafka-bootstrap:9093', 'the Strimzi bootstrap service');
    for (const service of SERVICES) {
      const dep = find(docs, 'Deployment', `wardwatch-${service}`)!;
      const spec = containerOf(dep) as unknown as {
        containers: Array<Container & { volumeMounts: Array<{ name: string; mountPath: string }> }>;
        volumes: Array<{
          name: string;
          secret?: { secretName: string; items: Array<{ key: string; path: string }> };
        }>;
      };
      const c = spec.containers[0]!;
      const env = new Map((c.env ?? []).map((e) => [e.name, e]));
      assert.equal(env.get('WARDWATCH_KAFKA_TLS')?.value, 'true', service);
      assert.equal(env.get('WARDWATCH_KAFKA_SASL_MECHANISM')?.value, 'scram-sha-512', service);
      const user = env.get('WARDWATCH_KAFKA_SASL_USERNAME')!.value!;
      const ku = find(docs, 'KafkaUser', user);
      assert.ok(ku, `${service}: KafkaUser ${user}`);
      assert.equal(((ku.spec as Json).authentication as Json).type, 'scram-sha-512');
      assert.equal((ku.metadata as { labels: Json }).labels['strimzi.io/cluster'], 'wardwatch-kafka');
      // The User Operator's Secret, named after the user.
      assert.deepEqual(
        (env.get('WARDWATCH_KAFKA_SASL_PASSWORD')!.valueFrom as { secretKeyRef: Json }).secretKeyRef,
        { name: user, key: 'password' },
      );
      const caFile = env.get('WARDWATCH_KAFKA_CA_FILE')!.value!;
      const mount = c.volumeMounts.find((m) => caFile.startsWith(`${m.mountPath}/`))!;
      const vol = spec.volumes.find((v) => v.name === mount.name)!;
      assert.equal(
        vol.secret?.secretName,
        'wardwatch-kafka-cluster-ca-cert',
        `${service}: Strimzi's cluster CA`,
      );
      assert.ok(vol.secret.items.some((i) => i.key === 'ca.crt' && caFile.endsWith(`/${i.path}`)));
    }
    assert.equal(new Set(SERVICES.map((s) => s)).size, docs.filter((d) => d.kind === 'KafkaUser').length);
    const flows = find(docs, 'KafkaTopic', 'flows-v1')!;
    assert.equal((flows.metadata as { labels: Json }).labels['strimzi.io/cluster'], 'wardwatch-kafka');
    assert.equal((flows.spec as Json).partitions, Number(data.WARDWATCH_FLOW_PARTITIONS));
    for (const compacted of ['templates-v1', 'exporters-v1', 'exporter-trust-v1']) {
      const t = find(docs, 'KafkaTopic', compacted)!;
      assert.equal(((t.spec as Json).config as Json)['cleanup.policy'], 'compact', compacted);
    }
    const pg = find(docs, 'Cluster', 'wardwatch-pg')!;
    assert.equal(pg.apiVersion, 'postgresql.cnpg.io/v1');
    const initdb = ((pg.spec as Json).bootstrap as { initdb: { database: string; owner: string } }).initdb;
    assert.deepEqual([initdb.database, initdb.owner], ['wardwatch', 'wardwatch']);
    // The services' roles are CloudNativePG managed roles, LOGIN with the password of the Secret each
    // service reads its URL from; the owner's URI (wardwatch-pg-app) goes to the migrate Job only.
    const managed = (
      pg.spec as {
        managed: { roles: Array<{ name: string; login: boolean; passwordSecret: { name: string } }> };
      }
    ).managed.roles;
    for (const service of ['analytics', 'policy']) {
      const c = containerOf(find(docs, 'Deployment', `wardwatch-${service}`)!).containers[0]!;
      const ref = (c.env!.find((e) => e.name === 'DATABASE_URL')!.valueFrom as { secretKeyRef: Json })
        .secretKeyRef;
      assert.deepEqual(ref, { name: `wardwatch-db-${service}`, key: 'url' }, service);
      const role = managed.find((r) => r.passwordSecret.name === ref.name);
      assert.ok(role?.login, `${service}: a managed LOGIN role with that Secret's password`);
      const secret = find(docs, 'Secret', String(ref.name))!;
      const data = secret.data as Record<string, string>;
      const b64 = (k: string) => Buffer.from(data[k]!, 'base64').toString('utf8');
      assert.equal(secret.type, 'kubernetes.io/basic-auth');
      assert.equal(b64('username'), role.name);
      assert.equal(new URL(b64('url')).username, role.name, `${service}: its URL names its role`);
      assert.equal(decodeURIComponent(new URL(b64('url')).password), b64('password'));
    }
    const job = (find(docs, 'Job', 'wardwatch-migrate')!.spec as { template: { spec: Json } }).template.spec;
    const owner = [...(job.initContainers as Container[]), ...(job.containers as Container[])].map(
      (c) =>
        (c.env!.find((e) => e.name === 'DATABASE_URL')!.valueFrom as { secretKeyRef: Json }).secretKeyRef,
    );
    assert.deepEqual(owner, [
      { name: 'wardwatch-pg-app', key: 'uri' },
      { name: 'wardwatch-pg-app', key: 'uri' },
    ]);
  });

  test('overlays/external: the database Secret and broker list the services read exist', () => {
    const docs = kustomize('overlays/external');
    const secrets = docs.filter((d) => d.kind === 'Secret').map((d) => String((d.metadata as Json).name));
    for (const service of ['analytics', 'policy']) {
      const c = containerOf(find(docs, 'Deployment', `wardwatch-${service}`)!).containers[0]!;
      const ref = (
        c.env!.find((e) => e.name === 'DATABASE_URL')!.valueFrom as { secretKeyRef: { name: string } }
      ).secretKeyRef;
      assert.ok(
        secrets.includes(ref.name),
        `${service}: Secret ${ref.name} (hash-suffixed by the generator)`,
      );
    }
    const cm = docs.find(
      (d) => d.kind === 'ConfigMap' && String((d.metadata as Json).name).startsWith('wardwatch-env'),
    );
    assert.equal(((cm!.data as Json).KAFKA_BROKERS as string).split(',').length, 3);
  });
});
