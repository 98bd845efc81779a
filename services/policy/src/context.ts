// What every route module shares: the fastify instance type and the route context.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { WardwatchConfig } from '@wardwatch/config';
import type { Database } from '@wardwatch/storage';
import type { Logger, Registry } from '@wardwatch/telemetry';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { KeyVerifier } from './api-keys.ts';
import type { SecretBox } from './outbox/secrets.ts';

/** The fastify instance every route module registers on. */
export type App = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What route modules share: the database, configuration, the key verifier and the secret box. */
export interface RouteContext {
  db: Database;
  config: WardwatchConfig;
  logger: Logger;
  registry: Registry;
  verifier: KeyVerifier;
  secrets: SecretBox;
  readiness: Record<string, () => Promise<boolean>>;
}
