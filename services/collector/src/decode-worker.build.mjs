// How the decode worker is bundled: one CommonJS script. Shared by the collector (which bundles the
// worker at start when it runs from TypeScript sources, src/pool.ts) and by scripts/wardwatch.mjs (which
// builds it beside the prebuilt bundle). Plain JavaScript, so the latter can import it without a loader.
// The worker imports the decoder and the flow schema only (routing lives in @wardwatch/flow-schema), so
// no Kafka client is bundled into it.
import { fileURLToPath } from 'node:url';

/** esbuild options for the decode worker (add the output: `write: false` or `outfile`). */
export function decodeWorkerBuildOptions() {
  return {
    entryPoints: [fileURLToPath(new URL('./decode-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  };
}
