import { TEST_DATABASE_URL, TEST_KAFKA_BROKERS } from './db.ts';

/**
 * Config overrides (for `loadConfig({ overrides })`) that isolate one test's stack: its own schema, topic
 * prefix and consumer group named after `schema`, loopback listeners on ports the OS picks, quiet logs.
 * Spread it and add what the test needs.
 */
export function isolatedStack(schema: string, apiKey: string): Record<string, unknown> {
  return {
    'database.url': TEST_DATABASE_URL,
    'database.schema': schema,
    'kafka.brokers': TEST_KAFKA_BROKERS,
    'kafka.topicPrefix': `${schema}.`,
    'kafka.flowPartitions': 4,
    'analytics.groupId': `${schema}-analytics`,
    'collector.host': '127.0.0.1',
    'collector.udpPorts': [0],
    'collector.lingerMs': 20,
    'api.host': '127.0.0.1',
    'api.port': 0,
    'api.bootstrapApiKey': apiKey,
    'webhooks.secretKey': `${schema}-webhook-key-0123456789`,
    logLevel: 'warn',
  };
}
