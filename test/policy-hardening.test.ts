// Transport security and socket hygiene of the policy service, with real peers: CEF over syslog to a
// real TLS receiver (certificate verified against a throwaway CA made with openssl), and timeouts on the
// SIEM socket when the receiver stops answering.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { waitFor } from '@wardwatch/testkit';
import { seedAlert, seedDevices, startPolicyHarness } from './policy-support.ts';
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
