import type { BuildOptions } from 'esbuild';

/** esbuild options for the decode worker (add the output: `write: false` or `outfile`). */
export function decodeWorkerBuildOptions(): BuildOptions & { entryPoints: string[] };
