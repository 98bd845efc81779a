// How the decode worker is bundled: one CommonJS script in which `@wardwatch/transport` is its partition
// function alone, so no Kafka client loads in the worker. Shared by the collector (which bundles the
// worker at start when it runs from TypeScript sources, src/pool.ts) and by scripts/wardwatch.mjs (which
// builds it beside the prebuilt bundle). Plain JavaScript, so the latter can import it without a loader.
import { fileURLToPath } from 'node:url';

/** esbuild options for the decode worker (add the output: `write: false` or `outfile`). */
export function decodeWorkerBuildOptions() {
  const partition = fileURLToPath(new URL('./partition.ts', import.meta.resolve('@wardwatch/transport')));
  return {
    entryPoints: [fileURLToPath(new URL('./decode-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    plugins: [
      {
        name: 'transport-partition-only',
        setup(build) {
          build.onResolve({ filter: /^@wardwatch\/transport$/ }, () => ({ path: partition }));
        },
      },
    ],
  };
}
