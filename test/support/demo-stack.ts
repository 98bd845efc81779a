// The demo's configuration (docs/deployment.md) as the end-to-end tests run it: embedded, on ephemeral
// loopback ports, with data in a throwaway directory.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type WardwatchConfig } from '@wardwatch/config';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** deploy/demo/wardwatch-demo.yaml, embedded in `dataDir`, with `apiKey` as the bootstrap admin key. */
export function demoConfig(dataDir: string, apiKey: string): WardwatchConfig {
  return loadConfig({
    file: join(ROOT, 'deploy', 'demo', 'wardwatch-demo.yaml'),
    env: {},
    overrides: {
      mode: 'embedded',
      dataDir,
      'collector.udpPorts': [0],
      'collector.tcpPorts': [],
      'collector.lingerMs': 20,
      'api.port': 0,
      'api.bootstrapApiKey': apiKey,
      logLevel: 'warn',
    },
  });
}
