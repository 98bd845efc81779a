import { parseArgs } from 'node:util';
import { loadConfig } from '@wardwatch/config';
import { createApiKey, ROLES, type Role } from '@wardwatch/policy';
import { migrate } from '@wardwatch/storage';
import { createLogger } from '@wardwatch/telemetry';
import { openAdapters } from '../assemble.ts';

/** `wardwatch apikey create --role viewer|analyst|admin [--name NAME]`: prints the new key once. */
export async function apikeyCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create') {
    console.error('usage: wardwatch apikey create --role viewer|analyst|admin [--name NAME]');
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      role: { type: 'string' },
      name: { type: 'string', default: 'cli' },
      config: { type: 'string' },
    },
  });
  if (!values.role || !ROLES.includes(values.role as Role)) {
    console.error(`--role must be one of ${ROLES.join(', ')}`);
    return 2;
  }
  const config = loadConfig({ file: values.config });
  const logger = createLogger({ level: 'warn' });
  const { db, transport } = await openAdapters(config, logger, true);
  try {
    await migrate(db!);
    const { key, id } = await createApiKey(db!.pool, { name: values.name, role: values.role as Role });
    console.log(JSON.stringify({ id, name: values.name, role: values.role, key }));
    return 0;
  } finally {
    await transport.close();
    await db!.close();
  }
}
