import { type Static, Type as T } from '@sinclair/typebox';

/** A port; 0 asks the OS for a free one (tests). */
const PortOrEphemeral = T.Integer({ minimum: 0, maximum: 65535 });
const portOrZero = (d: number) => T.Integer({ minimum: 0, maximum: 65535, default: d });
/** A duration such as `500ms`, `30s`, `5m`, `2h`, `7d`. */
const Duration = (d: string) => T.String({ default: d, pattern: '^[0-9]+(ms|s|m|h|d)$' });

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
        /** Decode worker threads (datagrams are sharded to them by exporter); 0 decodes on the receive thread; `auto`: cores - 1, at least 1. */
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
        /** Width of a baseline bucket (flow time). */
        baselineBucket: Duration('5m'),
        /** YAML/JSON file of extra device-class signatures, merged over the built-in ones. */
        signaturesFile: T.Optional(T.String({ minLength: 1 })),
        /** Threat-intelligence list: one IP or CIDR a line (`#` comments); re-read when it changes. */
        threatIntelFile: T.Optional(T.String({ minLength: 1 })),
        /** IEEE registry CSV files (oui.csv, mam.csv, oui36.csv) whose entries win over the built-in list. */
        ouiFiles: T.Array(T.String({ minLength: 1 }), { default: [] }),
        /** Longest a worker holds applied records before committing them (wall clock; Kafka only): a commit
         *  covers several fetches, so each device's rows are written once for many of its records. */
        commitInterval: Duration('5s'),
        /** Records applied that make a commit due before `commitInterval` (bounds the uncommitted work). */
        commitRecords: T.Integer({ default: 1_000_000, minimum: 1 }),
        /** How often the threat-intel file and the policies are checked for changes (wall clock). */
        reloadInterval: Duration('30s'),
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
        /** Distinct peers kept per device profile before further peers fold into peer groups. */
        maxProfilePeers: T.Integer({ default: 256, minimum: 8, maximum: 100000 }),
        /** Least time (wall clock) between two runs of the behaviour-grouping job across all workers. */
        groupInterval: Duration('5m'),
        /** Window (flow time) over which scans and lateral movement are counted. */
        scanWindow: Duration('1m'),
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
    /** Alerts as CEF over syslog to a SIEM (policy service); off unless `host` is set. */
    siem: T.Object(
      {
        host: T.Optional(T.String({ minLength: 1 })),
        port: T.Integer({ default: 514, minimum: 1, maximum: 65535 }),
        protocol: T.Union([T.Literal('udp'), T.Literal('tcp')], { default: 'udp' }),
        pollIntervalMs: T.Integer({ default: 1000, minimum: 10, maximum: 60000 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** The validated, frozen configuration every component receives. */
export type WardwatchConfig = Static<typeof ConfigSchema>;
