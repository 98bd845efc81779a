import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { apiTransportProblem, ConfigError, loadConfig } from '@wardwatch/config';
import { countLiveApiKeys, createApiKeyAudited } from '@wardwatch/policy';
import { createLogger } from '@wardwatch/telemetry';
import { ALL_SERVICES, type ServiceName, startWardwatch } from '../assemble.ts';

/** `wardwatch start [--service collector,analytics,policy] [--config file] [--check]` */
export async function startCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      service: { type: 'string', default: ALL_SERVICES.join(',') },
      config: { type: 'string' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      [
        'usage: wardwatch start [--service collector,analytics,policy] [--config FILE] [--check]',
        '',
        '  (no options)  the whole product in one process (embedded: PGlite and an in-process bus,',
        '                unless the configuration says mode: cluster)',
        '  --service     only these services, comma-separated (cluster: one service per process)',
        '  --config      a YAML or JSON configuration file; WARDWATCH_* environment variables override it',
        '  --check       validate the configuration, print the result and exit (1 on an error)',
        '',
        'Settings: docs/configuration.md',
      ].join('\n'),
    );
    return 0;
  }
  const config = loadConfig({ file: values.config });
  const services = values.service.split(',').map((s) => s.trim()) as ServiceName[];
  for (const s of services) {
    if (!ALL_SERVICES.includes(s))
      throw new Error(`unknown service ${JSON.stringify(s)} (${ALL_SERVICES.join(', ')})`);
  }
  const apiProblem = services.includes('policy') ? apiTransportProblem(config) : undefined;
  if (apiProblem) throw new ConfigError([apiProblem]);
  if (values.check) {
    console.log(JSON.stringify({ ok: true, mode: config.mode, services }, null, 2));
    return 0;
  }
  // A person at a terminal reads lines; anything else (a file, a log collector, a container) gets JSON.
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true });
  logger.info({ mode: config.mode, services }, 'starting Wardwatch');
  const ww = await startWardwatch(config, logger, services);

  if (ww.policy)
    logger.info({ url: `${ww.policy.url()}/` }, `console: ${ww.policy.url()}/ (sign in with an API key)`);
  if (ww.policy && ww.db && (await countLiveApiKeys(ww.db.pool)) === 0) {
    // First run with no key at all: make one admin key so the API is usable. It goes to a file only its
    // owner reads, and to the terminal only when there is one: never into a log or a container's output.
    const { key } = await createApiKeyAudited(ww.db.pool, 'system:first-start', {
      name: 'initial-admin',
      role: 'admin',
      createdBy: 'first-start',
    });
    const keyFile = writeInitialKey(config.dataDir, key);
    const url = ww.policy.url();
    const tlsHint =
      url.startsWith('https:') && !config.api.tlsCertFile
        ? ` --cacert ${join(config.dataDir, 'tls', 'api-cert.pem')}`
        : '';
    logger.warn(
      { keyFile },
      'first start: created an admin API key (stored hashed); it is in this file, readable by its owner only',
    );
    if (process.stdout.isTTY)
      process.stdout.write(
        `\n  First start: created an admin API key (stored hashed, shown only now, also in ${keyFile}):\n\n    ${key}\n\n` +
          `  Console: ${url}/ (sign in with this key)\n` +
          `  API:     curl${tlsHint} -H "Authorization: Bearer ${key}" ${url}/v1/devices\n\n`,
      );
  }

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  await ww.stop();
  return 0;
}

/** Writes the first-start admin key to `<dataDir>/initial-admin-key`, mode 0600 (the directory 0700 when made here). */
export function writeInitialKey(dataDir: string, key: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'initial-admin-key');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  // A file left by an earlier run keeps its mode through writeFileSync: set it.
  chmodSync(file, 0o600);
  return file;
}
