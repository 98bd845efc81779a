// The wardwatch command as `pnpm start` and `pnpm wardwatch` run it: cli/src/main.ts bundled by esbuild
// into node_modules/.cache/wardwatch (rebuilt when a source changed, ~0.3 s) and run by plain Node in this
// process. No TypeScript loader runs beside the services: `node --import tsx` costs a loader hooks thread
// (another V8 isolate) and esbuild's service process, ~35–65 MB of idle RSS together, and a slower start.
//
// Only the workspace's TypeScript is bundled; every package from node_modules stays an external import
// of the very file Node would load for it (resolved from the importing package, as pnpm lays them out),
// so native addons and packages that read files beside their code work unchanged. `import.meta.url` and
// `import.meta.dirname` in the workspace sources keep naming the source file, so files read relative to
// them (migrations, signatures) are found. The collector's decode worker is bundled on its own into one
// CommonJS script (as `services/collector/src/pool.ts` does at start when run from sources), with the
// transport package reduced to its partition function. The telemetry preload
// (packages/telemetry/src/register.ts) is bundled beside the CLI as `cli/register.mjs`.
//
//   node scripts/wardwatch.mjs --build   builds the bundle (when stale) and exits: the container image runs
//                                        node --import <cache>/cli/register.mjs <cache>/cli/main.mjs
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cache = join(repo, 'node_modules', '.cache', 'wardwatch');
const manifest = join(cache, 'inputs.json');
const entry = join(cache, 'cli', 'main.mjs');

/** True when the bundle exists and no input (source, lockfile, this script) changed since it was built. */
function fresh() {
  let built;
  try {
    built = JSON.parse(readFileSync(manifest, 'utf8'));
  } catch {
    return false;
  }
  try {
    for (const f of built.inputs) if (statSync(f).mtimeMs > built.builtMs) return false;
  } catch {
    return false;
  }
  return true;
}

/** Keeps `import.meta.url`/`dirname`/`filename` of a workspace source naming that source file. */
function sourceLocation(path, text) {
  return text
    .replaceAll('import.meta.dirname', JSON.stringify(dirname(path)))
    .replaceAll('import.meta.filename', JSON.stringify(path))
    .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(path).href));
}

async function build() {
  const esbuild = createRequire(join(repo, 'services/collector/package.json'))('esbuild');
  const tmp = `${cache}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const worker = join(cache, 'decode-worker.cjs');
  const builtMs = Date.now();
  const inputs = new Set([
    join(repo, 'pnpm-lock.yaml'),
    join(repo, 'scripts/wardwatch.mjs'),
    join(repo, 'tsconfig.json'),
  ]);
  const externals = {
    name: 'node-modules-external',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (
          args.pluginData === 'inner' ||
          args.path.startsWith('node:') ||
          args.path.startsWith('@wardwatch/')
        )
          return undefined;
        const r = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: 'inner',
        });
        if (r.errors.length > 0) return { errors: r.errors };
        return r.path.includes('/node_modules/') ? { path: r.path, external: true } : undefined;
      });
      b.onLoad({ filter: /\.ts$/ }, async (args) => ({
        contents: sourceLocation(args.path, await readFile(args.path, 'utf8')),
        loader: 'ts',
      }));
    },
  };
  const cli = await esbuild.build({
    entryPoints: {
      main: join(repo, 'cli/src/main.ts'),
      register: join(repo, 'packages/telemetry/src/register.ts'),
    },
    absWorkingDir: repo,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: join(tmp, 'cli'),
    outExtension: { '.js': '.mjs' },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    define: { WARDWATCH_DECODE_WORKER: JSON.stringify(worker) },
    plugins: [externals],
  });
  const workerBuild = join(repo, 'services/collector/src/decode-worker.build.mjs');
  inputs.add(workerBuild);
  const { decodeWorkerBuildOptions } = await import(pathToFileURL(workerBuild).href);
  const decode = await esbuild.build({
    ...decodeWorkerBuildOptions(),
    absWorkingDir: repo,
    outfile: join(tmp, 'decode-worker.cjs'),
    metafile: true,
    logLevel: 'warning',
  });
  await esbuild.stop();
  for (const m of [cli.metafile, decode.metafile])
    for (const f of Object.keys(m.inputs)) if (!f.includes('node_modules')) inputs.add(resolve(repo, f));
  writeFileSync(join(tmp, 'inputs.json'), JSON.stringify({ builtMs, inputs: [...inputs] }));
  // Swapped in whole, so a concurrent start never runs half a bundle.
  mkdirSync(dirname(cache), { recursive: true });
  const old = `${cache}.${process.pid}.old`;
  try {
    renameSync(cache, old);
  } catch {}
  renameSync(tmp, cache);
  rmSync(old, { recursive: true, force: true });
}

if (!fresh()) await build();
if (process.argv[2] === '--build') console.log(`wardwatch bundle ready in ${cache}`);
else await import(pathToFileURL(entry).href);
