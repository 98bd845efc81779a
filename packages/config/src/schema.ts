import { type Static, Type as T } from '@sinclair/typebox';

/** A port; 0 asks the OS for a free one (tests). */
const PortOrEphemeral = T.Integer({ minimum: 0, maximum: 65535 });
const portOrZero = (d: number) => T.Integer({ minimum: 0, maximum: 65535, default: d });

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
      { default: {} },
    ),
    kafka: T.Object(
      {
        brokers: T.Array(T.String({ minLength: 3 }), { default: ['127.0.0.1:9092'], minItems: 1 }),
        clientId: T.String({ default: 'wardwatch' }),
        /** Prefix for topic names, so several installations (or tests) can share a cluster. */
        topicPrefix: T.String({ default: '' }),
        /** Partitions of `flows-v1` when Wardwatch creates it. */
        flowPartitions: T.Integer({ default: 8, minimum: 1, maximum: 1024 }),
      },
      { default: {} },
    ),
    collector: T.Object(
      {
        host: T.String({ default: '0.0.0.0' }),
        /** UDP ports; every port accepts every export version. */
        udpPorts: T.Array(PortOrEphemeral, { default: [2055, 4739], minItems: 1 }),
        /** Socket receive buffer, bytes. */
        receiveBufferBytes: T.Integer({ default: 33554432, minimum: 65536 }),
        /** Port of the collector's /metrics, /healthz and /readyz (0: none; embedded mode serves them on the API). */
        httpPort: portOrZero(0),
        /** Records per published message at most. */
        batchRecords: T.Integer({ default: 500, minimum: 1, maximum: 100000 }),
        /** Longest a record waits for its batch to fill, milliseconds. */
        lingerMs: T.Integer({ default: 50, minimum: 0, maximum: 10000 }),
      },
      { default: {} },
    ),
    analytics: T.Object(
      {
        groupId: T.String({ default: 'wardwatch-analytics' }),
        httpPort: portOrZero(0),
      },
      { default: {} },
    ),
    api: T.Object(
      {
        host: T.String({ default: '0.0.0.0' }),
        port: T.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
        /** When set, an admin API key with this value is ensured at start. */
        bootstrapApiKey: T.Optional(T.String({ minLength: 16 })),
      },
      { default: {} },
    ),
  },
  { additionalProperties: false },
);

/** The validated, frozen configuration every component receives. */
export type WardwatchConfig = Static<typeof ConfigSchema>;
