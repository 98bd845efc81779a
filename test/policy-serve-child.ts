// A policy service in a process of its own (for tests that kill it), assembled as `wardwatch start
// --service policy` does (startWardwatch): config overrides come as JSON in argv[2]; prints
// {"url": ...} on stdout once listening.
import { startWardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { createLogger } from '@wardwatch/telemetry';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const config = loadConfig({ env: {}, overrides });
const ww = await startWardwatch(config, createLogger({ level: config.logLevel }), ['policy']);
process.stdout.write(`${JSON.stringify({ url: ww.policy!.url() })}\n`);
process.once('SIGTERM', async () => {
  await ww.stop();
  process.exit(0);
});
