// The start command's secrets, as users run it (the bundle, embedded mode) with its output piped as in a
// container: the first-start admin key is written to a 0600 file in the data dir and appears in no output
// line; the API bound beyond loopback serves HTTPS with the self-signed certificate generated into the
// data dir, whose SHA-256 fingerprint is logged, and the key from the file works against it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { startCommandArgs, waitFor } from '@wardwatch/testkit';

const ROOT = join(import.meta.dirname, '..');

describe('the start command keeps its secrets (embedded, output piped)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-start-secrets-'));
  const dataDir = join(dir, 'data');
  let child: ChildProcess;
  const output: string[] = [];
  let apiUrl = '';
  let fingerprint = '';

  before(async () => {
    const config = join(dir, 'wardwatch.yaml');
    writeFileSync(
      config,
      [
        'mode: embedded',
        `dataDir: '${dataDir}'`,
        'logLevel: info',
        'collector:',
        "  host: '127.0.0.1'",
        '  udpPorts: [0]',
        '  tcpPorts: []',
        'api:',
        "  host: '0.0.0.0'",
        '  port: 0',
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
        output.push(line);
        try {
          const e = JSON.parse(line) as { msg?: string; url?: string; fingerprint?: string };
          if (e.msg === 'REST API listening' && e.url) apiUrl = e.url;
          if (e.fingerprint) fingerprint = e.fingerprint;
        } catch {}
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    await waitFor(
      async () => {
        assert.equal(child.exitCode, null, `the start command exited:\n${output.slice(-5).join('\n')}`);
        return apiUrl && output.some((l) => l.includes('initial-admin-key')) ? true : undefined;
      },
      { what: 'the start command listening', timeoutMs: 120_000 },
    );
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('the first-start key is in a 0600 file and in no output line', () => {
    const file = join(dataDir, 'initial-admin-key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const key = readFileSync(file, 'utf8').trim();
    assert.ok(key.length >= 32);
    assert.deepEqual(
      output.filter((l) => l.includes(key)),
      [],
    );
  });

  test('the API beyond loopback is HTTPS with the generated certificate; the logged fingerprint pins it', async () => {
    assert.match(apiUrl, /^https:\/\//);
    assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const key = readFileSync(join(dataDir, 'initial-admin-key'), 'utf8').trim();
    const res = await new Promise<{ status: number; fingerprint: string }>((resolve, reject) => {
      const req = request(
        `${apiUrl}/v1/devices`,
        { rejectUnauthorized: false, headers: { authorization: `Bearer ${key}` }, agent: false },
        (r) => {
          r.resume();
          resolve({
            status: r.statusCode ?? 0,
            fingerprint: (r.socket as TLSSocket).getPeerCertificate().fingerprint256,
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.fingerprint, fingerprint);
    assert.equal(res.status, 200);
  });
});
