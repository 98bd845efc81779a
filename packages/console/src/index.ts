// The SOC web console: a Preact + uPlot single-page app, bundled by esbuild into dist/ (at `pnpm install`,
// by build.mjs) and served by the policy service at `/`. This front door gives the server its files.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

/** Where build.mjs writes the bundle. */
export const CONSOLE_DIST = join(import.meta.dirname, '..', 'dist');

/** One file of the built console. */
export interface ConsoleAsset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The built console's files by name, read once; undefined when it has not been built. */
export function loadConsoleAssets(dir = CONSOLE_DIST): Map<string, ConsoleAsset> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const out = new Map<string, ConsoleAsset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    out.set(name, { body, type, etag });
  }
  return out;
}
