import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '@wardwatch/config';
import { createApiKeyAudited, ROLES, type Role, revokeApiKeyAudited } from '@wardwatch/policy';
import { prepareSchema } from '@wardwatch/storage';
import { createLogger } from '@wardwatch/telemetry';
import { openAdapters } from '../assemble.ts';

const USAGE = `usage: wardwatch apikey create --role feeds|viewer|analyst|admin [--name NAME] [--expires-days N] [--config FILE]
       wardwatch apikey list [--config FILE]
       wardwatch apikey revoke ID [--config FILE]`;

/**
 * `wardwatch apikey create|list|revoke`: API keys straight in the database (for first setup and
 * automation; the admin endpoint /v1/apikeys does the same over HTTP). A new key is printed once.
 */
export async function apikeyCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
    console.error(USAGE);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      name: { type: 'string', default: 'cli' },
      'expires-days': { type: 'string' },
      config: { type: 'string' },
    },
  });
  if (sub === 'create' && (!values.role || !ROLES.includes(values.role as Role))) {
    console.error(`--role must be one of ${ROLES.join(', ')}`);
    return 2;
  }
  let expiresAt: Date | null = null;
  if (values['expires-days'] !== undefined) {
    const days = Number(values['expires-days']);
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      console.error('--expires-days must be a whole number of days, 1..3650');
      return 2;
    }
    expiresAt = new Date(Date.now() + days * 86_400_000);
  }
  if (sub === 'revoke' && !/^[0-9a-f-]{36}$/i.test(positionals[0] ?? '')) {
    console.error('revoke needs the key id (a UUID, from `wardwatch apikey list`)');
    return 2;
  }
  const config = loadConfig({ file: values.config });
  const logger = createLogger({ level: 'warn' });
  const { db, transport } = await openAdapters(config, logger, true);
  // The audit log's actor for key changes made here: the CLI and the operating-system user running it.
  const actor = `cli:${osUser()}`;
  try {
    await prepareSchema(db!, config.database.migrate);
    if (sub === 'create') {
      const { key, apiKey } = await createApiKeyAudited(db!.pool, actor, {
        name: values.name,
        role: values.role as Role,
        expiresAt,
        createdBy: 'cli',
      });
      console.log(JSON.stringify({ id: apiKey.id, name: values.name, role: values.role, expiresAt, key }));
      return 0;
    }
    if (sub === 'list') {
      const { rows } = await db!.pool.query(
        `SELECT id, name, role, key_prefix AS prefix, created_at, last_used_at, expires_at, revoked_at
         FROM api_keys ORDER BY created_at`,
      );
      for (const r of rows) console.log(JSON.stringify(r));
      return 0;
    }
    const revoked = await revokeApiKeyAudited(db!.pool, actor, positionals[0]!);
    if (!revoked) {
      console.error(`no API key ${positionals[0]}`);
      return 1;
    }
    console.log(JSON.stringify({ id: positionals[0], revoked: true }));
    return 0;
  } finally {
    await transport.close();
    await db!.close();
  }
}

/** The operating-system user name, or "unknown" where the platform has none (some containers). */
function osUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}
