// The wardwatch command: one entry point for starting services and for the operators' tools.
import { ConfigError } from '@wardwatch/config';

type Command = (args: string[]) => Promise<number>;

/** Commands load lazily, so `wardwatch decode` does not pull in fastify, kafkajs or PGlite. */
const COMMANDS: Record<string, { help: string; load: () => Promise<Command> }> = {
  start: {
    help: 'start the embedded stack, or --service collector|analytics|policy (cluster); --check validates config (--help)',
    load: async () => (await import('./commands/start.ts')).startCommand,
  },
  migrate: {
    help: 'migrate [--config FILE]: bring the database schema up to date as its owner, then exit (cluster: before the services)',
    load: async () => (await import('./commands/migrate.ts')).migrateCommand,
  },
  decode: {
    help: 'decode <file.pcap|file.dat|->: print flow records as JSON lines',
    load: async () => (await import('./commands/decode.ts')).decodeCommand,
  },
  simulate: {
    help: 'simulate [--target HOST:PORT] [--protocol v9|ipfix] [--scenario hospital|load] [--speed N] ... (--help): a simulated hospital exporting flows',
    load: async () => (await import('./commands/simulate.ts')).simulateCommand,
  },
  quarantine: {
    help: 'quarantine IP --reason R [--minutes N] | release IP --reason R | approve|reject REQUEST-ID --reason R | trust ADDRESS trusted|pending|blocked',
    load: async () => (await import('./commands/quarantine.ts')).quarantineCommand,
  },
  apikey: {
    help: 'apikey create --role feeds|viewer|analyst|admin [--name NAME] [--expires-days N] | list | revoke ID',
    load: async () => (await import('./commands/apikey.ts')).apikeyCommand,
  },
};

function usage(): void {
  console.error('usage: wardwatch <command> [options]\n');
  for (const [name, { help }] of Object.entries(COMMANDS)) console.error(`  ${name.padEnd(10)} ${help}`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const entry = name ? COMMANDS[name] : undefined;
  if (!entry) {
    usage();
    return name === undefined || name === 'help' || name === '--help' ? 0 : 2;
  }
  return (await entry.load())(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error(`wardwatch: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
