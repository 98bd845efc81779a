// Builds the console into dist/: one script and one style sheet (minified, no source maps served), and
// index.html naming them. Run by the root package's postinstall, so `pnpm install` leaves a built console.
// `node build.mjs --check` prints the gzip size of what a browser downloads.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

export async function build() {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  await esbuild.build({
    entryPoints: { app: join(here, 'src', 'app', 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: dist,
    logLevel: 'warning',
    legalComments: 'none',
  });
  for (const f of ['index.html', 'favicon.svg'])
    writeFileSync(join(dist, f), readFileSync(join(here, 'src', 'app', f)));
  let gz = 0;
  for (const f of ['app.js', 'app.css']) gz += gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  return { gzipBytes: gz };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { gzipBytes } = await build();
  console.error(`console built into ${dist}: ${(gzipBytes / 1024).toFixed(1)} KB gzip (script + style)`);
}
