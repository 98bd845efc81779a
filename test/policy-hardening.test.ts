// Transport security and socket hygiene of the policy service, with real peers: CEF over syslog to a
// real TLS receiver (certificate verified against a throwaway CA made with openssl), and timeouts on the
// SIEM socket when the receiver stops answering; the API over HTTPS (configured files reloaded on change,
// a self-signed certificate generated in embedded mode) and cleartext refused beyond loopback.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { createServer as createTlsServer } from 'node:tls';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { apiTransportProblem, ConfigError, loadConfig } from '@wardwatch/config';
import { buildApp, createPolicyService, createSecretBox, resolveApiTransport } from '@wardwatch/policy';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';
import { waitFor } from '@wardwatch/testkit';
import { type PolicyHarness, seedAlert, seedDevices, startPolicyHarness } from './policy-support.ts';
import { makeTestCertificates, type TestCertificates } from './support/certs.ts';

let certs: TestCertificates;
before(() => {
  certs = makeTestCertificates();
});
after(() => rmSync(certs.dir, { recursive: true, force: true }));

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

const counter = async (h: { registry: { metrics(): Promise<string> } }, name: string) => {
  const line = (await h.registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
};

describe('CEF over syslog/TLS', () => {
  test('alerts reach a TLS receiver whose certificate is verified against siem.caFile', async () => {
    const received: string[] = [];
    const server = createTlsServer({ cert: certs.cert, key: certs.key }, (s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('utf8');
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          received.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    });
    const port = await listen(server);
    const h = await startPolicyHarness({
      'siem.host': '127.0.0.1',
      'siem.port': port,
      'siem.protocol': 'tls',
      'siem.caFile': certs.caFile,
      'siem.pollIntervalMs': 100,
    });
    try {
      await seedDevices(h.db, [{ ip: '10.51.0.1', class: 'infusion-pump' }]);
      const id = await seedAlert(h.db, {
        deviceIp: '10.51.0.1',
        kind: 'exfiltration',
        severity: 'high',
        title: 'x',
      });
      await waitFor(async () => (received.length >= 1 ? true : undefined), { what: 'a CEF line over TLS' });
      assert.ok(received[0]!.includes(`externalId=${id}`));
      assert.match(received[0]!, /CEF:0\|Wardwatch\|/);
    } finally {
      await h.close();
      await new Promise((r) => server.close(r));
    }
  });

  test('a receiver with a certificate from another CA is refused (nothing sent, errors counted)', async () => {
    const other = makeTestCertificates();
    const received: string[] = [];
    const server = createTlsServer({ cert: other.cert, key: other.key }, (s) =>
      s.on('data', (d) => received.push(String(d))),
    );
    const port = await listen(server);
    const h = await startPolicyHarness({
      'siem.host': '127.0.0.1',
      'siem.port': port,
      'siem.protocol': 'tls',
      'siem.caFile': certs.caFile,
      'siem.pollIntervalMs': 100,
    });
    try {
      await seedDevices(h.db, [{ ip: '10.51.0.2', class: 'infusion-pump' }]);
      await seedAlert(h.db, { deviceIp: '10.51.0.2', kind: 'exfiltration', severity: 'high', title: 'x' });
      await waitFor(async () => ((await counter(h, 'wardwatch_siem_errors_total')) >= 2 ? true : undefined));
      assert.deepEqual(received, []);
    } finally {
      await h.close();
      await new Promise((r) => server.close(r));
      rmSync(other.dir, { recursive: true, force: true });
    }
  });
});

describe('timeouts on the SIEM socket', () => {
  test('a receiver that accepts and never answers the TLS handshake is dropped after siem.timeoutMs and retried', async () => {
    const conns: Socket[] = [];
    let closedByClient = 0;
    // A TCP listener that accepts and then says nothing: the TLS handshake never completes.
    const server = createServer((s) => {
      conns.push(s);
      s.on('close', () => closedByClient++);
      // Read (and ignore) the ClientHello, so the client's close is seen.
      s.resume();
      s.on('error', () => {});
    });
    const port = await listen(server);
    const h = await startPolicyHarness({
      'siem.host': '127.0.0.1',
      'siem.port': port,
      'siem.protocol': 'tls',
      'siem.caFile': certs.caFile,
      'siem.timeoutMs': 300,
      'siem.pollIntervalMs': 100,
    });
    try {
      await seedDevices(h.db, [{ ip: '10.51.0.3', class: 'infusion-pump' }]);
      await seedAlert(h.db, { deviceIp: '10.51.0.3', kind: 'exfiltration', severity: 'high', title: 'x' });
      // Without a timeout the forwarder waits on the first handshake for ever: one connection, never closed.
      await waitFor(async () => (closedByClient >= 2 && conns.length >= 3 ? true : undefined), {
        what: 'stalled connections closed by the forwarder and new ones tried',
      });
      assert.ok((await counter(h, 'wardwatch_siem_errors_total')) >= 2);
    } finally {
      await h.close();
      for (const c of conns) c.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

/** GET over HTTPS with a CA (or, with `pin`, any certificate whose SHA-256 fingerprint is `pin`). */
function httpsGet(
  url: string,
  opts: { ca?: string; pin?: string; key?: string },
): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.pin ? { rejectUnauthorized: false } : {}),
        headers: opts.key ? { authorization: `Bearer ${opts.key}` } : {},
        agent: false,
      },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        if (opts.pin && fingerprint !== opts.pin) {
          reject(new Error(`certificate ${fingerprint} is not the pinned ${opts.pin}`));
          res.destroy();
          return;
        }
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('API transport security', () => {
  test('cluster mode refuses cleartext HTTP beyond loopback unless api.insecureHttp says TLS ends in front', async () => {
    const load = (o: Record<string, unknown>) =>
      loadConfig({ env: {}, overrides: { mode: 'cluster', 'api.host': '0.0.0.0', ...o } });
    assert.match(apiTransportProblem(load({})) ?? '', /api\.tlsCertFile/);
    assert.equal(apiTransportProblem(load({ 'api.insecureHttp': true })), undefined);
    assert.equal(apiTransportProblem(load({ 'api.host': '127.0.0.1' })), undefined);
    assert.equal(
      apiTransportProblem(load({ 'api.tlsCertFile': certs.certFile, 'api.tlsKeyFile': certs.keyFile })),
      undefined,
    );
    assert.throws(() => load({ 'api.tlsCertFile': certs.certFile }), /go together/);
    // The service itself refuses to listen so.
    await assert.rejects(
      resolveApiTransport(load({}), createLogger({ level: 'silent' })),
      (e: unknown) => e instanceof ConfigError,
    );
  });

  test('HTTPS from the configured files; a renewed certificate is served without a restart; no cleartext', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ww-api-tls-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    copyFileSync(certs.certFile, certFile);
    copyFileSync(certs.keyFile, keyFile);
    const h = await startPolicyHarness({ 'api.tlsCertFile': certFile, 'api.tlsKeyFile': keyFile });
    try {
      assert.match(h.url, /^https:\/\//);
      const first = await httpsGet(`${h.url}/v1/devices`, { ca: certs.ca, key: h.keys.viewer });
      assert.equal(first.status, 200);
      assert.equal(first.fingerprint, h.service.fingerprint());
      // Cleartext to the same port gets no API answer.
      await assert.rejects(fetch(`${h.url.replace('https:', 'http:')}/v1/devices`));
      // Renewal: a new certificate from the same CA replaces the files (as cert-manager or certbot would).
      const other = makeTestCertificates();
      try {
        copyFileSync(other.keyFile, keyFile);
        copyFileSync(other.certFile, certFile);
        const next = await waitFor(
          async () => {
            const r = await httpsGet(`${h.url}/healthz`, { ca: other.ca }).catch(() => undefined);
            return r && r.fingerprint !== first.fingerprint ? r : undefined;
          },
          { what: 'the renewed certificate served' },
        );
        assert.equal(next.status, 200);
        assert.equal(next.fingerprint, h.service.fingerprint());
      } finally {
        rmSync(other.dir, { recursive: true, force: true });
      }
    } finally {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('embedded mode beyond loopback: a self-signed certificate is generated into the data dir once, its fingerprint given', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ww-embedded-tls-'));
    const h = await startPolicyHarness({ mode: 'embedded', dataDir, 'api.host': '0.0.0.0' });
    try {
      assert.match(h.url, /^https:\/\//);
      const fp = h.service.fingerprint();
      assert.match(fp ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      const res = await httpsGet(`${h.url}/v1/devices`, { pin: fp!, key: h.keys.viewer });
      assert.equal(res.status, 200);
      assert.equal(statSync(join(dataDir, 'tls', 'api-key.pem')).mode & 0o777, 0o600);
      assert.equal(statSync(join(dataDir, 'tls')).mode & 0o777, 0o700);
      // The next start serves the same certificate (clients that pinned it keep working).
      await h.restart({ mode: 'embedded', dataDir, 'api.host': '0.0.0.0' });
      assert.equal(h.service.fingerprint(), fp);
      assert.equal((await httpsGet(`${h.url}/healthz`, { pin: fp! })).status, 200);
    } finally {
      await h.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('sign-in hygiene', () => {
  /** The API over the harness's database, logging into `lines`, listening on loopback. */
  async function apiWithLog(h: PolicyHarness, overrides: Record<string, unknown>, lines: string[]) {
    const logger = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(l) } });
    const registry = createMetricsRegistry({ defaultMetrics: false });
    const config = loadConfig({
      env: {},
      overrides: { mode: 'cluster', 'api.host': '127.0.0.1', 'api.rateLimitPerMinute': 100000, ...overrides },
    });
    const app = await buildApp({ db: h.db, logger, registry, config });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    return { app, registry, url };
  }
  const failures = async (registry: { metrics(): Promise<string> }, reason: string) => {
    const line = (await registry.metrics())
      .split('\n')
      .find((l) => l.startsWith(`wardwatch_api_auth_failures_total{reason="${reason}"} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  let h: PolicyHarness;
  before(async () => {
    h = await startPolicyHarness();
  });
  after(() => h?.close());

  test('a failed sign-in is logged with the key prefix and address (never the key) and counted, lockouts included', async () => {
    const lines: string[] = [];
    const { app, registry, url } = await apiWithLog(h, {}, lines);
    try {
      const guess = 'ww_guessed-key-0123456789abcdefghijklmnop';
      const res = await fetch(`${url}/v1/devices`, { headers: { authorization: `Bearer ${guess}` } });
      assert.equal(res.status, 401);
      const logged = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'API sign-in failed');
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.keyPrefix, guess.slice(0, 7));
      assert.equal(logged[0]!.address, '127.0.0.1');
      assert.deepEqual(
        lines.filter((l) => l.includes(guess.slice(8))),
        [],
      );
      assert.equal(await failures(registry, 'bad_key'), 1);
      // Up to the lockout and past it: every attempt is counted, those refused by the lockout too.
      for (let i = 0; i < 1001; i++)
        await fetch(`${url}/v1/devices`, { headers: { authorization: `Bearer ${guess}${i}` } }).then((r) =>
          r.body?.cancel(),
        );
      assert.equal(await failures(registry, 'bad_key'), 1000);
      assert.equal(await failures(registry, 'locked_out'), 2);
      // Logged per address: the first ten, then every hundredth, not a line per guess.
      assert.equal(lines.filter((l) => l.includes('API sign-in failed')).length, 10 + 10);
    } finally {
      await app.close();
    }
  });

  test('api.trustProxy: behind a trusted proxy each client is its own address (lockout, logs); otherwise the header is ignored', async () => {
    for (const trusted of [true, false]) {
      const lines: string[] = [];
      const { app, url } = await apiWithLog(h, trusted ? { 'api.trustProxy': ['127.0.0.1'] } : {}, lines);
      try {
        const call = (client: string, key: string) =>
          fetch(`${url}/v1/devices`, {
            headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': client },
          }).then(async (r) => {
            await r.body?.cancel();
            return r.status;
          });
        for (let i = 0; i < 1000; i++) await call('198.51.100.7', `ww_bad-${i}-0123456789abcdef`);
        assert.equal(await call('198.51.100.7', 'ww_bad-x-0123456789abcdef'), 429);
        // Another client behind the same proxy, with a key it never used: locked out only when the
        // proxy's address stood for everyone.
        assert.equal(await call('203.0.113.20', 'ww_other-0123456789abcdef'), trusted ? 401 : 429);
        const addresses = new Set(
          lines
            .map((l) => JSON.parse(l) as { msg?: string; address?: string })
            .filter((l) => l.msg === 'API sign-in failed')
            .map((l) => l.address),
        );
        assert.deepEqual([...addresses].sort(), trusted ? ['198.51.100.7', '203.0.113.20'] : ['127.0.0.1']);
      } finally {
        await app.close();
      }
    }
  });
});

describe('secrets at rest', () => {
  /** Every file under `dir` that contains `needle` (bytes). */
  function filesContaining(dir: string, needle: string): string[] {
    const hits: string[] = [];
    const bytes = Buffer.from(needle, 'utf8');
    for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const path = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
      if (readFileSync(path).includes(bytes)) hits.push(path);
    }
    return hits;
  }

  test('embedded: a webhook secret is sealed with a key generated into the data dir, and is not in the database files', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ww-sealed-'));
    const secret = `whsec-${randomBytes(12).toString('hex')}`;
    const key = 'embedded-admin-key-0123456789abcdef';
    const config = loadConfig({
      env: {},
      overrides: {
        mode: 'embedded',
        dataDir,
        'api.host': '127.0.0.1',
        'api.port': 0,
        'api.bootstrapApiKey': key,
        logLevel: 'silent',
      },
    });
    let ww: Wardwatch | undefined = await startWardwatch(config, createLogger({ level: 'silent' }), [
      'policy',
    ]);
    try {
      const res = await fetch(`${ww.policy!.url()}/v1/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'http://127.0.0.1:9/hook', events: ['alert.opened'], secret }),
      });
      assert.equal(res.status, 201);
      assert.ok(!(await res.text()).includes(secret), 'the secret is not echoed');
      const stored = await ww.db!.pool.query<{ secret: string }>('SELECT secret FROM webhooks');
      assert.match(stored.rows[0]!.secret, /^v1:/);
      await ww.stop();
      ww = undefined;
      assert.equal(statSync(join(dataDir, 'webhook-secret.key')).mode & 0o777, 0o600);
      // Everything PGlite wrote (tables, WAL) and nothing holds the secret; the generated key is not it.
      assert.deepEqual(filesContaining(dataDir, secret), []);
    } finally {
      await ww?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('cluster mode requires webhooks.secretKey; placeholders and short keys are refused without repeating them', () => {
    const base = { mode: 'cluster', 'api.host': '127.0.0.1' };
    assert.throws(
      () =>
        createPolicyService({
          config: loadConfig({ env: {}, overrides: base }),
          db: {} as never,
          logger: createLogger({ level: 'silent' }),
          registry: createMetricsRegistry(),
        }),
      /webhooks\/secretKey: required in cluster mode/,
    );
    for (const [path, value] of [
      ['api.bootstrapApiKey', 'CHANGE-ME-to-a-long-random-admin-key'],
      ['webhooks.secretKey', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
      ['webhooks.secretKey', 'short-key'],
    ] as const) {
      assert.throws(
        () => loadConfig({ env: {}, overrides: { ...base, [path]: value } }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.message.includes(`/${path.replace('.', '/')}`) &&
          !e.message.includes(value),
        `${path}=${value}`,
      );
    }
  });

  test('rotation: secrets sealed with a previous key (and plaintext ones) are resealed with the current key at start', async () => {
    const h = await startPolicyHarness({ 'webhooks.secretKey': 'old-webhook-key-0123456789abcdef' });
    try {
      const made = await h.call('POST', '/v1/webhooks', {
        body: { url: 'http://127.0.0.1:9/hook', events: ['alert.opened'], secret: 'rotate-me-secret-1' },
      });
      assert.equal(made.status, 201);
      await h.db.pool.query(
        "INSERT INTO webhooks (url, events, secret, created_by) VALUES ('http://127.0.0.1:9/b', ARRAY['alert.opened'], 'plain:legacy-secret-2', 'test')",
      );
      const before = (
        await h.db.pool.query<{ secret: string }>('SELECT secret FROM webhooks ORDER BY secret')
      ).rows;
      await h.restart({
        'webhooks.secretKey': 'new-webhook-key-0123456789abcdef',
        'webhooks.previousSecretKeys': ['old-webhook-key-0123456789abcdef'],
      });
      const after = (await h.db.pool.query<{ secret: string }>('SELECT secret FROM webhooks')).rows.map(
        (r) => r.secret,
      );
      assert.ok(after.every((s) => s.startsWith('v1:')));
      assert.ok(after.every((s) => !before.some((b) => b.secret === s)));
      const box = createSecretBox('new-webhook-key-0123456789abcdef');
      assert.deepEqual(after.map((s) => box.open(s)).sort(), ['legacy-secret-2', 'rotate-me-secret-1']);
    } finally {
      await h.close();
    }
  });
});
