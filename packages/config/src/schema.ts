import { type Static, Type as T } from '@sinclair/typebox';

/** A port; 0 asks the OS for a free one (tests). */
const PortOrEphemeral = T.Integer({ minimum: 0, maximum: 65535 });
const portOrZero = (d: number) => T.Integer({ minimum: 0, maximum: 65535, default: d });
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `500ms`, `30s`, `5m`, `2h` or `7d` into milliseconds; undefined when `s`
 * is not one. The one duration parser: the loader turns such settings into milliseconds with it.
 */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/**
 * A duration setting. Every duration in the validated configuration is an integer of milliseconds; the
 * ones marked `durationText` may also be written with a unit (`30s`, `5m`, `7d`) in the file, the
 * environment and overrides, and the loader converts them (see `load.ts`). `min` is enforced, never
 * clamped to.
 */
const Duration = (d: string, min = 0) =>
  T.Integer({ default: parseDuration(d)!, minimum: min, durationText: true, description: `default ${d}` });

/** The private and unique-local ranges: what a hospital's internal devices use by default. */
export const PRIVATE_NETWORKS = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  'fc00::/7',
];

/** The whole Wardwatch configuration; every section has defaults so an empty config is valid. */
export const ConfigSchema = T.Object(
  {
    /** `embedded`: one process, PGlite and an in-process bus. `cluster`: PostgreSQL and Kafka. */
    mode: T.Union([T.Literal('embedded'), T.Literal('cluster')], { default: 'embedded' }),
    /** Where embedded mode keeps its database and state. */
    dataDir: T.String({ default: './data', minLength: 1 }),
    logLevel: T.Union(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => T.Literal(l)),
      { default: 'info' },
    ),
    /** Addresses inside these CIDRs are devices; everything else is a peer. */
    monitoredNetworks: T.Array(T.String({ minLength: 2 }), { default: PRIVATE_NETWORKS, minItems: 1 }),
    database: T.Object(
      {
        /** PostgreSQL connection string (cluster mode). */
        url: T.String({ default: 'postgres://postgres@127.0.0.1:5432/test' }),
        /** PostgreSQL schema that holds Wardwatch's tables. */
        schema: T.String({ default: 'wardwatch', pattern: '^[a-z_][a-z0-9_]{0,62}$' }),
        poolSize: T.Integer({ default: 10, minimum: 1, maximum: 200 }),
        /**
         * Bring the schema up to date at start (its owner's job). `false` for a service connected with a
         * role that has no DDL rights: it checks that no migration is pending and stops if one is.
         */
        migrate: T.Boolean({ default: true }),
      },
      { default: {}, additionalProperties: false },
    ),
    kafka: T.Object(
      {
        brokers: T.Array(T.String({ minLength: 3 }), { default: ['127.0.0.1:9092'], minItems: 1 }),
        clientId: T.String({ default: 'wardwatch' }),
        /** Prefix for topic names, so several installations (or tests) can share a cluster. */
        topicPrefix: T.String({ default: '' }),
        /** Partitions of `flows-v1` when Wardwatch creates it. */
        flowPartitions: T.Integer({ default: 8, minimum: 1, maximum: 1024 }),
        /** TLS to the brokers (listener SASL_SSL or SSL), verified against `caFile` or the system CAs. */
        tls: T.Boolean({ default: false }),
        /** PEM CA(s) of the brokers' certificates. */
        caFile: T.Optional(T.String({ minLength: 1 })),
        /** SASL/SCRAM credentials (use with `tls`). */
        sasl: T.Optional(
          T.Object(
            {
              mechanism: T.Union([T.Literal('scram-sha-256'), T.Literal('scram-sha-512')], {
                default: 'scram-sha-512',
              }),
              username: T.String({ minLength: 1 }),
              password: T.String({ minLength: 1 }),
            },
            { additionalProperties: false },
          ),
        ),
        /** Compression of produced message batches. */
        compression: T.Union([T.Literal('none'), T.Literal('gzip'), T.Literal('lz4')], { default: 'lz4' }),
      },
      { default: {}, additionalProperties: false },
    ),
    collector: T.Object(
      {
        host: T.String({ default: '0.0.0.0' }),
        /** UDP ports; every port accepts every export version (NetFlow v5/v9, IPFIX, sFlow v5). */
        udpPorts: T.Array(PortOrEphemeral, { default: [2055, 4739, 6343], minItems: 1 }),
        /** Socket receive buffer, bytes. */
        receiveBufferBytes: T.Integer({ default: 33554432, minimum: 65536 }),
        /** Port of the collector's /metrics, /healthz and /readyz (0: none; embedded mode serves them on the API). */
        httpPort: portOrZero(0),
        /** Records per published message at most. */
        batchRecords: T.Integer({ default: 500, minimum: 1, maximum: 100000 }),
        /** Longest a record waits for its batch to fill, milliseconds. */
        lingerMs: T.Integer({ default: 50, minimum: 0, maximum: 10000 }),
        /** TCP ports for IPFIX over TCP (RFC 7011 §10.4); empty for none. */
        tcpPorts: T.Array(PortOrEphemeral, { default: [4739] }),
        /** Decode worker threads (datagrams are sharded to them by exporter); 0 reads UDP and decodes on the main thread; `auto`: cores - 1, at least 1. */
        decodeWorkers: T.Union([T.Literal('auto'), T.Integer({ minimum: 0, maximum: 64 })], {
          default: 'auto',
        }),
        /** Exporter CIDRs allowed to send; empty allows all. Datagrams from elsewhere are counted and dropped. */
        exporterAllowlist: T.Array(T.String({ minLength: 2 }), { default: [] }),
        /** Bound of the buffer between decoding and Kafka, bytes of encoded messages; past it records are dropped and counted. */
        bufferBytes: T.Integer({ default: 33554432, minimum: 1048576 }),
        /** Directory of the disk spool behind the buffer (one collector per directory); empty: no spool. */
        spoolDir: T.String({ default: '' }),
        /** Bound of the disk spool, bytes; past it records are dropped and counted. */
        spoolBytes: T.Integer({ default: 1073741824, minimum: 1048576 }),
        /** Bound of datagrams waiting for a decode worker, bytes per worker; past it datagrams are dropped and counted. */
        decodeBacklogBytes: T.Integer({ default: 8388608, minimum: 1048576 }),
        /** Wait before restarting a decode worker that exited unasked, milliseconds; doubles per consecutive crash up to 30 s. */
        workerRestartDelayMs: T.Integer({ default: 1000, minimum: 10, maximum: 30000 }),
        /** Open IPFIX-over-TCP connections at most (all ports); further ones are refused and counted. */
        tcpMaxConnections: T.Integer({ default: 256, minimum: 1, maximum: 65535 }),
        /** An IPFIX-over-TCP connection silent this long is closed, milliseconds (exporters send templates periodically). */
        tcpIdleTimeoutMs: T.Integer({ default: 600000, minimum: 1000, maximum: 86400000 }),
        /** Backoff of publish retries while Kafka is unavailable, milliseconds. */
        retryInitialMs: T.Integer({ default: 200, minimum: 10, maximum: 60000 }),
        retryMaxMs: T.Integer({ default: 5000, minimum: 10, maximum: 600000 }),
        /** How often each exporter's status is published to `exporters-v1`, milliseconds. */
        exporterReportMs: T.Integer({ default: 10000, minimum: 100, maximum: 3600000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    analytics: T.Object(
      {
        groupId: T.String({ default: 'wardwatch-analytics' }),
        /** Address of the worker's /metrics, /healthz and /readyz. */
        httpHost: T.String({ default: '0.0.0.0' }),
        /** Port of the worker's /metrics, /healthz, /readyz (0: none; embedded mode serves them on the API). */
        httpPort: portOrZero(0),
        /** Flow time before a device's profile counts as normal (e.g. `7d`; tests use minutes). */
        learningPeriod: Duration('7d'),
        /** Width of a baseline bucket (flow time), at least a minute. */
        baselineBucket: Duration('5m', 60_000),
        /** YAML/JSON file of extra device-class signatures, merged over the built-in ones. */
        signaturesFile: T.Optional(T.String({ minLength: 1 })),
        /** Threat-intelligence list: one IP or CIDR a line (`#` comments); re-read when it changes. */
        threatIntelFile: T.Optional(T.String({ minLength: 1 })),
        /** IEEE registry CSV files (oui.csv, mam.csv, oui36.csv) whose entries win over the built-in list. */
        ouiFiles: T.Array(T.String({ minLength: 1 }), { default: [] }),
        /** How long a worker holds applied records before committing them (wall clock; Kafka only): a commit
         *  covers several fetches, so each device's rows are written once for many of its records. While the
         *  previous write still runs the worker keeps applying (the commit waits for it, not the worker). */
        commitInterval: Duration('5s'),
        /** Records applied that make a commit due before `commitInterval` (bounds the uncommitted work). */
        commitRecords: T.Integer({ default: 1_000_000, minimum: 1 }),
        /** How often the threat-intel file and the policies are checked for changes (wall clock), at least a second. */
        reloadInterval: Duration('30s', 1000),
        /** How late (flow time) a device's records may arrive after its partition's newest: buckets close,
         *  and silence counts, only after this allowance (cover the exporters' active timeout). */
        allowedLateness: Duration('5m'),
        /** How far (flow time) a record may be stamped ahead of its receive time at the collector; a record
         *  beyond it comes from a wrong clock (or a v9 sysUptime glitch) and is taken as received then.
         *  Keep it well below `allowedLateness`: flow time may run this far ahead of the truth. */
        maxClockSkew: Duration('2m'),
        /** Outbound bytes to external peers within one bucket that count as exfiltration (at least). */
        exfilMinBytes: T.Integer({ default: 10_000_000, minimum: 1 }),
        /** The same floor for a device that never sent anything to external peers in its history. */
        exfilQuietMinBytes: T.Integer({ default: 100_000, minimum: 1 }),
        /** Bytes sent within one bucket below which no volume spike is raised. */
        spikeMinBytes: T.Integer({ default: 1_000_000, minimum: 1 }),
        /** Shortest silence (flow time) that raises `device_silent` for a heartbeat device. */
        silenceAfter: Duration('2m'),
        /** New devices one exporter may add per minute (wall clock); past it their records are dropped (counted). */
        maxNewDevicesPerExporterPerMinute: T.Integer({ default: 1000, minimum: 1, maximum: 10_000_000 }),
        /** Device models a worker holds in memory at most; past it the least recently seen are dropped (counted). */
        maxDeviceModels: T.Integer({ default: 500_000, minimum: 100, maximum: 100_000_000 }),
        /** Distinct peers kept per device profile before further peers fold into peer groups. */
        maxProfilePeers: T.Integer({ default: 256, minimum: 8, maximum: 100000 }),
        /** Least time (wall clock) between two runs of the behaviour-grouping job across all workers. */
        groupInterval: Duration('5m', 1000),
        /** Window (flow time) over which scans and lateral movement are counted, at least a second. */
        scanWindow: Duration('1m', 1000),
        /** Distinct unanswered ports on one host, or hosts on one port, that make a scan. */
        scanThreshold: T.Integer({ default: 20, minimum: 3 }),
        /** Distinct internal hosts reached on admin ports (SMB, RDP, SSH, ...) that make lateral movement. */
        lateralThreshold: T.Integer({ default: 6, minimum: 2 }),
      },
      { default: {}, additionalProperties: false },
    ),
    api: T.Object(
      {
        host: T.String({ default: '0.0.0.0' }),
        port: T.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
        /** PEM certificate (chain) and key of the API's HTTPS listener; re-read when either file changes. */
        tlsCertFile: T.Optional(T.String({ minLength: 1 })),
        tlsKeyFile: T.Optional(T.String({ minLength: 1 })),
        /**
         * Proxies whose X-Forwarded-For is believed (the client address for lockout, rate limit and audit):
         * `false` (none), `true` (any: only behind a proxy that overwrites the header), a hop count, or
         * the proxies' addresses/CIDRs.
         */
        trustProxy: T.Union(
          [T.Boolean(), T.Integer({ minimum: 1, maximum: 10 }), T.Array(T.String({ minLength: 2 }))],
          {
            default: false,
          },
        ),
        /** Serve cleartext HTTP on a non-loopback `host` (TLS terminated in front, e.g. by an ingress). */
        insecureHttp: T.Boolean({ default: false }),
        /** When set, an admin API key with this value is ensured at start. */
        bootstrapApiKey: T.Optional(T.String({ minLength: 16 })),
        /** Requests per minute per API key (per address for unauthenticated calls). */
        rateLimitPerMinute: T.Integer({ default: 1200, minimum: 1 }),
        /** Largest request body accepted, bytes. */
        bodyLimitBytes: T.Integer({ default: 1048576, minimum: 1024, maximum: 104857600 }),
        /** How long a verified API key is trusted without asking the database again, milliseconds. */
        keyCacheMs: T.Integer({ default: 5000, minimum: 0, maximum: 300000 }),
        /** Days the audit log keeps an entry (0: forever). */
        auditRetentionDays: T.Integer({ default: 0, minimum: 0 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Webhook delivery from the PostgreSQL outbox (policy service). */
    webhooks: T.Object(
      {
        /** Key that encrypts stored webhook secrets (AES-256-GCM, derived with SHA-256); unset: stored as given. */
        secretKey: T.Optional(T.String({ minLength: 16 })),
        /** Keys that sealed secrets before the current one (rotation); they only open, and secrets are resealed at start. */
        previousSecretKeys: T.Array(T.String({ minLength: 16 }), { default: [] }),
        /** Attempts before a delivery is marked failed. */
        maxAttempts: T.Integer({ default: 12, minimum: 1, maximum: 100 }),
        /** First retry delay; doubles each attempt up to backoffMaxMs. */
        backoffBaseMs: T.Integer({ default: 1000, minimum: 10 }),
        backoffMaxMs: T.Integer({ default: 3600000, minimum: 10 }),
        /** How often the dispatcher looks for due deliveries, milliseconds. */
        pollIntervalMs: T.Integer({ default: 1000, minimum: 10, maximum: 60000 }),
        /** Per-request timeout, milliseconds. */
        timeoutMs: T.Integer({ default: 10000, minimum: 100, maximum: 120000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Automatic enforcement (policy service): how far a policy's `quarantine` action may go on its own. */
    enforcement: T.Object(
      {
        /** Expiry of every automatic quarantine, milliseconds (default one hour). */
        autoQuarantineExpiryMs: T.Integer({ default: 3600000, minimum: 60000, maximum: 2592000000 }),
        /** Circuit breaker: at most this many automatic quarantines per hour site-wide, then requests only. */
        maxAutoQuarantinesPerHour: T.Integer({ default: 10, minimum: 0, maximum: 10000 }),
        /** How often the enforcer reads analytics' requests, milliseconds. */
        pollIntervalMs: T.Integer({ default: 1000, minimum: 10, maximum: 60000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Alerts as CEF over syslog to a SIEM (policy service); off unless `host` is set. */
    siem: T.Object(
      {
        host: T.Optional(T.String({ minLength: 1 })),
        port: T.Integer({ default: 514, minimum: 1, maximum: 65535 }),
        /** `tls`: syslog over TLS (RFC 5425 transport, LF framing as `tcp`), verified against `caFile` or the system CAs. */
        protocol: T.Union([T.Literal('udp'), T.Literal('tcp'), T.Literal('tls')], { default: 'udp' }),
        /** PEM file of the CA(s) that sign the SIEM receiver's certificate (`tls`); unset: the system CAs. */
        caFile: T.Optional(T.String({ minLength: 1 })),
        /** Longest a TCP/TLS connect, handshake or write may take (and a connection may sit idle), milliseconds. */
        timeoutMs: T.Integer({ default: 10000, minimum: 100, maximum: 120000 }),
        pollIntervalMs: T.Integer({ default: 1000, minimum: 10, maximum: 60000 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** The validated, frozen configuration every component receives. */
export type WardwatchConfig = Static<typeof ConfigSchema>;
