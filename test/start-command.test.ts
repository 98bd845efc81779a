// The README's start command as users run it: package.json's `start` script (the prebuilt bundle under
// plain Node, scripts/wardwatch.mjs), embedded default, in its own process. softflowd's NetFlow v9 export
// of the small clinic reaches the inventory, the REST API lists the devices, SIGTERM stops it cleanly.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSoftflowd, startCommandArgs, waitFor, writePcap } from '@wardwatch/testkit';
import { smallClinic } from './support/small-clinic.ts';

const ROOT = join(import.meta.dirname, '..');
const API_KEY = 'start-command-key-0123456789abcdef';

describe('the start command (pnpm start: the bundle, embedded mode)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-start-'));
  const scenario = smallClinic();
  const pcap = join(dir, 'clinic.pcap');
  let child: ChildProcess;
  const logs: string[] = [];
  const stdoutLines: string[] = [];
  let apiUrl = '';
  let udpPort = 0;

  before(async () => {
    writePcap(pcap, scenario.packets);
    const config = join(dir, 'wardwatch.yaml');
    writeFileSync(
      config,
      [
        'mode: embedded',
        `dataDir: '${join(dir, 'data')}'`,
        'logLevel: info',
        'collector:',
        "  host: '127.0.0.1'",
        '  udpPorts: [0]',
        '  tcpPorts: []',
        '  lingerMs: 20',
        'api:',
        "  host: '127.0.0.1'",
        '  port: 0',
        `  bootstrapApiKey: '${API_KEY}'`,
        '',
      ].join('\n'),
    );
    child = spawn(process.execPath, startCommandArgs(ROOT), {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, WARDWATCH_CONFIG: config },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      for (const line of String(d).split('\n')) {
        if (!line) continue;
        logs.push(line);
        try {
          const e = JSON.parse(line) as { msg?: string; url?: string; udp?: number[] };
          if (e.msg === 'REST API listening' && e.url) apiUrl = e.url;
          if (e.udp?.[0]) udpPort = e.udp[0];
        } catch {}
      }
    };
    child.stdout?.on('data', (d: Buffer) => {
      stdoutLines.push(...String(d).split('\n').filter(Boolean));
      keep(d);
    });
    child.stderr?.on('data', keep);
    await waitFor(
      async () => {
        assert.equal(child.exitCode, null, `the start command exited:\n${logs.slice(-5).join('\n')}`);
        return apiUrl && udpPort ? true : undefined;
      },
      { what: 'the start command listening', timeoutMs: 120_000 },
    );
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('softflowd NetFlow v9 exports become the devices the REST API lists', async () => {
    await runSoftflowd({ pcap, target: `127.0.0.1:${udpPort}`, version: 9 });
    const expected = [...scenario.bytesSent.keys()].sort();
    const got = await waitFor(
      async () => {
        const res = await fetch(`${apiUrl}/v1/devices?limit=1000`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        assert.equal(res.status, 200);
        const items = ((await res.json()) as { items: Array<{ ip: string }> }).items;
        const ips = items.map((d) => d.ip).sort();
        return ips.length === expected.length ? ips : undefined;
      },
      { what: 'the devices listed', timeoutMs: 60_000 },
    );
    assert.deepEqual(got, expected);
    const health = await fetch(`${apiUrl}/healthz`);
    assert.equal(health.status, 200);
  });

  test('it logs the console URL, in JSON lines when stdout is not a terminal, and serves the console there', async () => {
    assert.ok(stdoutLines.length > 0);
    for (const line of stdoutLines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    const entry = stdoutLines
      .map((l) => JSON.parse(l) as { msg?: string; url?: string })
      .find((e) => e.msg?.startsWith('console: '));
    assert.equal(entry?.url, `${apiUrl}/`);
    const page = await fetch(entry!.url!);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<script type="module" src="\/assets\/app\.js"><\/script>/);
  });

  test('SIGTERM stops it cleanly', async () => {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, logs.slice(-5).join('\n'));
  });
});
