import { readFileSync } from 'node:fs';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, type WardwatchConfig } from './schema.ts';

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

/** Environment variable -> config path and parser. Documented in docs/configuration.md. */
export const ENV: ReadonlyArray<[string, string[], (v: string) => unknown]> = [
  ['WARDWATCH_MODE', ['mode'], String],
  ['WARDWATCH_DATA_DIR', ['dataDir'], String],
  ['WARDWATCH_LOG_LEVEL', ['logLevel'], String],
  ['WARDWATCH_MONITORED_NETWORKS', ['monitoredNetworks'], list],
  ['DATABASE_URL', ['database', 'url'], String],
  ['WARDWATCH_DB_SCHEMA', ['database', 'schema'], String],
  ['WARDWATCH_DB_POOL_SIZE', ['database', 'poolSize'], num],
  ['KAFKA_BROKERS', ['kafka', 'brokers'], list],
  ['WARDWATCH_KAFKA_CLIENT_ID', ['kafka', 'clientId'], String],
  ['WARDWATCH_TOPIC_PREFIX', ['kafka', 'topicPrefix'], String],
  ['WARDWATCH_FLOW_PARTITIONS', ['kafka', 'flowPartitions'], num],
  ['WARDWATCH_COLLECTOR_HOST', ['collector', 'host'], String],
  ['WARDWATCH_UDP_PORTS', ['collector', 'udpPorts'], (v) => list(v).map(num)],
  ['WARDWATCH_COLLECTOR_HTTP_PORT', ['collector', 'httpPort'], num],
  ['WARDWATCH_TCP_PORTS', ['collector', 'tcpPorts'], (v) => list(v).map(num)],
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
  ['WARDWATCH_WEBHOOK_MAX_ATTEMPTS', ['webhooks', 'maxAttempts'], num],
  ['WARDWATCH_SIEM_HOST', ['siem', 'host'], String],
  ['WARDWATCH_SIEM_PORT', ['siem', 'port'], num],
  ['WARDWATCH_SIEM_PROTOCOL', ['siem', 'protocol'], String],
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
  for (const [name, path, parse] of ENV) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, path, parse(v));
  }
  if (env.DATABASE_URL && env.KAFKA_BROKERS && !env.WARDWATCH_MODE && raw.mode === undefined)
    raw.mode = 'cluster';
  for (const [k, v] of Object.entries(opts.overrides ?? {})) setPath(raw, k.split('.'), v);

  // Cloned: defaults are filled in place, and the caller's values (or a previous frozen config) stay untouched.
  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw));
  const problems = [...Value.Errors(ConfigSchema, withDefaults)].map(
    (e) =>
      `${e.path || '/'}: ${describe(e)}${e.value !== undefined ? ` (got ${JSON.stringify(e.value)})` : ''}`,
  );
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
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** TypeBox says only "Expected union value" for a choice (`mode`, `siem.protocol`, ...); name the choices. */
function describe(e: ValueError): string {
  const choices = (e.schema as { anyOf?: Array<{ const?: unknown; type?: unknown }> }).anyOf;
  if (!choices) return e.message;
  const names = choices.map((c) =>
    c.const !== undefined ? JSON.stringify(c.const) : `an ${String(c.type)}`,
  );
  return `expected one of: ${names.join(', ')}`;
}

function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const bits = Number(m[2]);
  if (m[1]!.includes(':')) return bits <= 128 && /^[0-9a-fA-F:.]+$/.test(m[1]!);
  const parts = m[1]!.split('.');
  return bits <= 32 && parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}
