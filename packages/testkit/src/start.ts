import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Node's arguments of the repository's `pnpm start` (package.json: `node [flags] scripts/wardwatch.mjs
 * start`), paths made absolute: a child process started with them runs Wardwatch exactly as users start
 * it (the prebuilt bundle under plain Node, the same V8 flags). Throws when the script has another form.
 */
export function startCommandArgs(repo: string): string[] {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [node, ...args] = pkg.scripts.start.trim().split(/\s+/);
  if (node !== 'node' || !args.includes('start'))
    throw new Error(`unexpected start script: ${pkg.scripts.start}`);
  return args.map((a) => (a.endsWith('.mjs') || a.endsWith('.ts') ? join(repo, a) : a));
}
