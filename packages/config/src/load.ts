import { readFileSync } from 'node:fs';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { parseCidr } from '@wardwatch/flow-schema';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, parseDuration, type WardwatchConfig } from './schema.ts';

/** A configuration problem, with every offending path listed. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
const num = (v: string) => (/^-?\d+$/.test(v.trim()) ? Number(v) : v);
/** A list of port numbers: the one kind of variable where an empty value says something (no listener). */
const ports = (v: string) => list(v).map(num);
const bool = (v: string) => {
  const t = v.trim().toLowerCase();
  return t === 'true' || t === '1' ? true : t === 'false' || t === '0' ? false : v;
};

/** Environment variable -> config path and parser. Documented in docs/configuration.md. */
export const ENV: ReadonlyArray<[string, string[], (v: string) => unknown]> = [
  ['WARDWATCH_MODE', ['mode'], String],
  ['WARDWATCH_DATA_DIR', ['dataDir'], String],
  ['WARDWATCH_LOG_LEVEL', ['logLevel'], String],
  ['WARDWATCH_MONITORED_NETWORKS', ['monitoredNetworks'], list],
  ['DATABASE_URL', ['database', 'url'], String],
  ['WARDWATCH_DB_SCHEMA', ['database', 'schema'], String],
  ['WARDWATCH_DB_POOL_SIZE', ['database', 'poolSize'], num],
  ['WARDWATCH_DB_MIGRATE', ['database', 'migrate'], bool],
  ['KAFKA_BROKERS', ['kafka', 'brokers'], list],
  ['WARDWATCH_KAFKA_CLIENT_ID', ['kafka', 'clientId'], String],
  ['WARDWATCH_TOPIC_PREFIX', ['kafka', 'topicPrefix'], String],
  ['WARDWATCH_FLOW_PARTITIONS', ['kafka', 'flowPartitions'], num],
  ['WARDWATCH_COLLECTOR_HOST', ['collector', 'host'], String],
  ['WARDWATCH_UDP_PORTS', ['collector', 'udpPorts'], ports],
  ['WARDWATCH_COLLECTOR_HTTP_PORT', ['collector', 'httpPort'], num],
  ['WARDWATCH_TCP_PORTS', ['collector', 'tcpPorts'], ports],
  ['WARDWATCH_DECODE_WORKERS', ['collector', 'decodeWorkers'], num],
  ['WARDWATCH_EXPORTER_ALLOWLIST', ['collector', 'exporterAllowlist'], list],
  ['WARDWATCH_COLLECTOR_BUFFER_BYTES', ['collector', 'bufferBytes'], num],
  ['WARDWATCH_COLLECTOR_SPOOL_DIR', ['collector', 'spoolDir'], String],
  ['WARDWATCH_COLLECTOR_SPOOL_BYTES', ['collector', 'spoolBytes'], num],
  ['WARDWATCH_KAFKA_COMPRESSION', ['kafka', 'compression'], String],
  ['WARDWATCH_ANALYTICS_GROUP', ['analytics', 'groupId'], String],
  ['WARDWATCH_ANALYTICS_HTTP_HOST', ['analytics', 'httpHost'], String],
  ['WARDWATCH_ANALYTICS_HTTP_PORT', ['analytics', 'httpPort'], num],
  ['WARDWATCH_LEARNING_PERIOD', ['analytics', 'learningPeriod'], String],
  ['WARDWATCH_BASELINE_BUCKET', ['analytics', 'baselineBucket'], String],
  ['WARDWATCH_SIGNATURES_FILE', ['analytics', 'signaturesFile'], String],
  ['WARDWATCH_THREAT_INTEL_FILE', ['analytics', 'threatIntelFile'], String],
  ['WARDWATCH_OUI_FILES', ['analytics', 'ouiFiles'], list],
  ['WARDWATCH_ANALYTICS_COMMIT_INTERVAL', ['analytics', 'commitInterval'], String],
  ['WARDWATCH_ANALYTICS_COMMIT_RECORDS', ['analytics', 'commitRecords'], num],
  ['WARDWATCH_ANALYTICS_MAX_CLOCK_SKEW', ['analytics', 'maxClockSkew'], String],
  ['WARDWATCH_API_HOST', ['api', 'host'], String],
  ['WARDWATCH_API_PORT', ['api', 'port'], num],
  ['WARDWATCH_BOOTSTRAP_API_KEY', ['api', 'bootstrapApiKey'], String],
  ['WARDWATCH_API_RATE_LIMIT', ['api', 'rateLimitPerMinute'], num],
  ['WARDWATCH_API_BODY_LIMIT', ['api', 'bodyLimitBytes'], num],
  ['WARDWATCH_AUDIT_RETENTION_DAYS', ['api', 'auditRetentionDays'], num],
  ['WARDWATCH_WEBHOOK_SECRET_KEY', ['webhooks', 'secretKey'], String],
  ['WARDWATCH_WEBHOOK_PREVIOUS_SECRET_KEYS', ['webhooks', 'previousSecretKeys'], list],
  ['WARDWATCH_WEBHOOK_MAX_ATTEMPTS', ['webhooks', 'maxAttempts'], num],
  ['WARDWATCH_AUTO_QUARANTINE_EXPIRY_MS', ['enforcement', 'autoQuarantineExpiryMs'], num],
  ['WARDWATCH_MAX_AUTO_QUARANTINES_PER_HOUR', ['enforcement', 'maxAutoQuarantinesPerHour'], num],
  ['WARDWATCH_SIEM_HOST', ['siem', 'host'], String],
  ['WARDWATCH_SIEM_PORT', ['siem', 'port'], num],
  ['WARDWATCH_SIEM_PROTOCOL', ['siem', 'protocol'], String],
  ['WARDWATCH_SIEM_CA_FILE', ['siem', 'caFile'], String],
  ['WARDWATCH_KAFKA_TLS', ['kafka', 'tls'], bool],
  ['WARDWATCH_KAFKA_CA_FILE', ['kafka', 'caFile'], String],
  ['WARDWATCH_KAFKA_SASL_MECHANISM', ['kafka', 'sasl', 'mechanism'], String],
  ['WARDWATCH_KAFKA_SASL_USERNAME', ['kafka', 'sasl', 'username'], String],
  ['WARDWATCH_KAFKA_SASL_PASSWORD', ['kafka', 'sasl', 'password'], String],
  ['WARDWATCH_API_TLS_CERT_FILE', ['api', 'tlsCertFile'], String],
  ['WARDWATCH_API_TLS_KEY_FILE', ['api', 'tlsKeyFile'], String],
  ['WARDWATCH_API_INSECURE_HTTP', ['api', 'insecureHttp'], bool],
  [
    'WARDWATCH_API_TRUST_PROXY',
    ['api', 'trustProxy'],
    (v) => {
      const b = bool(v);
      if (typeof b === 'boolean') return b;
      return /^\d+$/.test(v.trim()) ? Number(v) : list(v);
    },
  ],
];

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const key of path.slice(0, -1)) {
    const next = o[key];
    if (typeof next !== 'object' || next === null) o[key] = {};
    o = o[key] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}

/** Paths of the settings that may be written as a duration with a unit (`durationText` in the schema). */
const DURATION_PATHS: readonly string[][] = (() => {
  const out: string[][] = [];
  const walk = (schema: { properties?: Record<string, unknown> }, path: string[]) => {
    for (const [k, s] of Object.entries(schema.properties ?? {})) {
      const sub = s as { properties?: Record<string, unknown>; durationText?: boolean };
      if (sub.durationText) out.push([...path, k]);
      else if (sub.properties) walk(sub, [...path, k]);
    }
  };
  walk(ConfigSchema, []);
  return out;
})();

/**
 * Turns every duration written with a unit (`30s`, `5m`, `7d`) or as digits into milliseconds, in
 * place; a string that is neither is reported and left for the schema to reject as well.
 */
function durationsToMs(raw: Record<string, unknown>, problems: string[]): void {
  for (const path of DURATION_PATHS) {
    let o: unknown = raw;
    for (const k of path.slice(0, -1))
      o = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined;
    if (typeof o !== 'object' || o === null) continue;
    const parent = o as Record<string, unknown>;
    const key = path[path.length - 1]!;
    const v = parent[key];
    if (typeof v !== 'string') continue;
    const ms = /^\s*\d+\s*$/.test(v) ? Number(v) : parseDuration(v);
    if (ms === undefined)
      problems.push(
        `/${path.join('/')}: expected a duration such as 500ms, 30s, 5m, 2h or 7d, or milliseconds (got ${JSON.stringify(v)})`,
      );
    else parent[key] = ms;
  }
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions {
  /** YAML or JSON file; `WARDWATCH_CONFIG` names one when this is absent. */
  file?: string | undefined;
  env?: Env;
  /** Values that win over file and environment (tests, CLI flags). */
  overrides?: Record<string, unknown>;
}

/**
 * Reads the configuration file (if any), applies environment overrides, fills defaults and validates,
 * once, at the edge. Throws ConfigError listing every problem; returns a deeply frozen object.
 */
export function loadConfig(opts: LoadConfigOptions = {}): WardwatchConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.WARDWATCH_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`cannot read config file ${file}: ${(err as Error).message}`]);
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ConfigError([`${file}: the top level must be a mapping`]);
      }
      raw = parsed as Record<string, unknown>;
    }
  }
  // An empty variable is unset (the file's value or the default applies), as a shell or compose leaves an
  // unset pass-through (`X: ${X}`) empty; except a port list, where empty means no listener of that kind
  // (`WARDWATCH_TCP_PORTS=` turns IPFIX over TCP off). An empty allowlist would admit every exporter, so
  // an empty WARDWATCH_EXPORTER_ALLOWLIST never widens the file's.
  for (const [name, path, parse] of ENV) {
    const v = env[name];
    if (v !== undefined && (v.trim() !== '' || parse === ports)) setPath(raw, path, parse(v));
  }
  if (env.DATABASE_URL && env.KAFKA_BROKERS && !env.WARDWATCH_MODE && raw.mode === undefined)
    raw.mode = 'cluster';
  for (const [k, v] of Object.entries(opts.overrides ?? {})) setPath(raw, k.split('.'), v);

  // Cloned: defaults and milliseconds are filled in place, and the caller's values (or a previous frozen
  // config) stay untouched.
  const cloned = structuredClone(raw);
  const durationProblems: string[] = [];
  durationsToMs(cloned, durationProblems);
  const withDefaults = Value.Default(ConfigSchema, cloned);
  const bad = new Set(durationProblems.map((p) => p.slice(0, p.indexOf(':'))));
  const schemaProblems = [...Value.Errors(ConfigSchema, withDefaults)]
    .filter((e) => !bad.has(e.path))
    .map(
      (e) =>
        `${e.path || '/'}: ${describe(e)}${e.value !== undefined && !isSecretPath(e.path) ? ` (got ${JSON.stringify(e.value)})` : ''}`,
    );
  const problems = [...durationProblems, ...schemaProblems];
  const config = withDefaults as WardwatchConfig;
  for (const cidr of config.monitoredNetworks ?? []) {
    if (!isCidr(cidr)) problems.push(`/monitoredNetworks: ${JSON.stringify(cidr)} is not a CIDR`);
  }
  for (const cidr of config.collector?.exporterAllowlist ?? []) {
    if (!isCidr(cidr)) problems.push(`/collector/exporterAllowlist: ${JSON.stringify(cidr)} is not a CIDR`);
  }
  if (config.collector && config.collector.retryMaxMs < config.collector.retryInitialMs) {
    problems.push('/collector/retryMaxMs: must not be below retryInitialMs');
  }
  for (const [path, value] of [
    ['/api/bootstrapApiKey', config.api?.bootstrapApiKey],
    ['/webhooks/secretKey', config.webhooks?.secretKey],
    ...(config.webhooks?.previousSecretKeys ?? []).map((v, i) => [`/webhooks/previousSecretKeys/${i}`, v]),
  ] as const) {
    const weak = typeof value === 'string' ? weakSecret(value) : undefined;
    if (weak) problems.push(`${path}: ${weak}`);
  }
  const api = config.api;
  if (api && (api.tlsCertFile === undefined) !== (api.tlsKeyFile === undefined)) {
    problems.push('/api: tlsCertFile and tlsKeyFile go together');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** TypeBox says only "Expected union value" for a choice (`mode`, `siem.protocol`, ...); name the choices. */
function describe(e: ValueError): string {
  const d = e.schema as { durationText?: boolean; minimum?: number };
  if (d.durationText && typeof e.value === 'number' && d.minimum !== undefined && e.value < d.minimum)
    return `must be at least ${d.minimum} ms`;
  const choices = (e.schema as { anyOf?: Array<{ const?: unknown; type?: unknown }> }).anyOf;
  if (!choices) return e.message;
  const names = choices.map((c) =>
    c.const !== undefined ? JSON.stringify(c.const) : `an ${String(c.type)}`,
  );
  return `expected one of: ${names.join(', ')}`;
}

/** A CIDR as the device matcher reads it: the same parser, so what passes here never fails there. */
function isCidr(s: string): boolean {
  return parseCidr(s) !== undefined;
}

/** Config paths whose values are secrets: never repeated in an error message. */
const SECRET_PATHS = [
  '/api/bootstrapApiKey',
  '/webhooks/secretKey',
  '/webhooks/previousSecretKeys',
  '/database/url',
  '/kafka/sasl',
];

function isSecretPath(path: string): boolean {
  return SECRET_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * Why a secret is too weak to accept (its value is never part of the answer): a placeholder left from
 * an example (`CHANGE-ME…`, `<your key>`, `example`, `xxxx`) or too few distinct characters.
 */
export function weakSecret(value: string): string | undefined {
  if (/change[-_ ]?me|replace[-_ ]?me|placeholder|example|your[-_ ]|<[^>]*>|x{4,}|\.\.\./i.test(value))
    return 'a placeholder, not a secret: set a long random value (e.g. `openssl rand -base64 32`)';
  if (new Set(value).size < 8) return 'too few distinct characters for a secret: set a long random value';
  return undefined;
}

/**
 * Why the API may not listen as configured, or undefined: in cluster mode a non-loopback `api.host`
 * needs TLS files or `api.insecureHttp` (embedded mode generates a certificate instead). Checked by the
 * policy service at start and by `wardwatch start --check` when it runs the API, not by every loader.
 */
export function apiTransportProblem(config: WardwatchConfig): string | undefined {
  const api = config.api;
  if (config.mode !== 'cluster' || isLoopbackHost(api.host) || api.tlsCertFile || api.insecureHttp)
    return undefined;
  return `/api/host: ${JSON.stringify(api.host)} is reachable from the network: set api.tlsCertFile and api.tlsKeyFile (HTTPS), or api.insecureHttp when TLS ends in front of the API`;
}

/** Whether a listen address is reachable only from this host (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return (
    h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1'
  );
}
