// No event skipped (issue #14): events whose transactions commit out of id order, under load, reach each
// outbox reader exactly once: the webhook dispatcher (a real HTTP receiver), the SIEM forwarder (a real
// TCP syslog receiver) and the policy enforcer (its decisions), on the real PostgreSQL. The old readers
// took `id > cursor AND created_at < now() - 2 s` and passed for good over an event whose transaction
// committed after a newer id's had been read.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TEST_DATABASE_URL, waitFor } from '@wardwatch/testkit';
import pg from 'pg';
import { type PolicyHarness, startPolicyHarness } from './policy-support.ts';

const WRITERS = 40;
const EVENTS_PER_WRITER = 3;

describe('outbox readers under out-of-order commits (real PostgreSQL, HTTP and syslog receivers)', () => {
  let h: PolicyHarness;
  let writers: pg.Pool;
  const hooks = new Map<string, number>();
  const siem = new Map<string, number>();
  const http = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const key = req.headers['idempotency-key'] as string;
      hooks.set(key, (hooks.get(key) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  const syslog = createServer((s) => {
    let buf = '';
    s.on('data', (c) => {
      buf += c.toString('utf8');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const id = /externalId=(\S+)/.exec(buf.slice(0, i))?.[1] ?? '?';
        siem.set(id, (siem.get(id) ?? 0) + 1);
        buf = buf.slice(i + 1);
      }
    });
  });

  before(async () => {
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => syslog.listen(0, '127.0.0.1', r));
    h = await startPolicyHarness({
      'siem.host': '127.0.0.1',
      'siem.port': (syslog.address() as AddressInfo).port,
      'siem.protocol': 'tcp',
      'siem.pollIntervalMs': 50,
      'webhooks.pollIntervalMs': 50,
      'enforcement.pollIntervalMs': 50,
    });
    const hook = await h.call('POST', '/v1/webhooks', {
      body: {
        url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`,
        events: ['alert.opened'],
        secret: 'a-webhook-secret-0123456789',
      },
    });
    assert.equal(hook.status, 201, hook.text);
    writers = new pg.Pool({
      connectionString: TEST_DATABASE_URL,
      max: 12,
      options: `-c search_path="${h.schema}",public`,
    });
  });

  after(async () => {
    await writers?.end();
    await h?.close();
    await new Promise((r) => http.close(r));
    await new Promise((r) => syslog.close(r));
  });

  /** Inserts one alert.opened event and one quarantine request inside `client`'s open transaction. */
  async function insertEvents(client: pg.PoolClient, tag: string): Promise<string> {
    const { rows } = await client.query<{ key: string }>(
      `INSERT INTO events (type, payload) VALUES ('alert.opened', $1) RETURNING idempotency_key AS key`,
      [
        JSON.stringify({
          alert: {
            id: tag,
            deviceIp: '10.70.0.1',
            kind: 'port_scan',
            severity: 'high',
            status: 'open',
            title: tag,
            lastSeen: new Date().toISOString(),
            occurrences: 1,
          },
        }),
      ],
    );
    await client.query("INSERT INTO events (type, payload) VALUES ('enforcement.requested', $1)", [
      JSON.stringify({ deviceIp: '10.70.0.1', policyId: 1, reason: tag, exporters: [], evidence: { tag } }),
    ]);
    return rows[0]!.key;
  }

  test('webhook, SIEM and enforcer each receive every event exactly once, whatever the commit order', async () => {
    const expected: string[] = [];
    // The pattern that lost events: A takes an id, B takes a later one and commits, the readers pass B,
    // and only then A commits.
    const a = await writers.connect();
    await a.query('BEGIN');
    expected.push(await insertEvents(a, 'early-id-late-commit'));
    const b = await writers.connect();
    await b.query('BEGIN');
    expected.push(await insertEvents(b, 'late-id-early-commit'));
    await b.query('COMMIT');
    b.release();
    await waitFor(async () => (siem.has('late-id-early-commit') ? true : undefined), {
      what: 'the SIEM forwarder passes the later id',
      timeoutMs: 30_000,
    });
    // Under load: concurrent writers holding their transactions open for different times.
    const load = Array.from({ length: WRITERS }, async (_, w) => {
      const c = await writers.connect();
      try {
        await c.query('BEGIN');
        const keys: string[] = [];
        for (let e = 0; e < EVENTS_PER_WRITER; e++) {
          keys.push(await insertEvents(c, `w${w}-e${e}`));
          await c.query('SELECT pg_sleep($1)', [((w * 7 + e * 13) % 10) / 100]);
        }
        await c.query('COMMIT');
        return keys;
      } finally {
        c.release();
      }
    });
    await a.query('COMMIT');
    a.release();
    for (const keys of await Promise.all(load)) expected.push(...keys);
    const tags = ['early-id-late-commit', 'late-id-early-commit'];
    for (let w = 0; w < WRITERS; w++) for (let e = 0; e < EVENTS_PER_WRITER; e++) tags.push(`w${w}-e${e}`);

    await waitFor(async () => (tags.every((t) => siem.has(t)) ? true : undefined), {
      what: 'every event at the SIEM',
      timeoutMs: 60_000,
    }).catch(() => {});
    assert.deepEqual(
      tags.filter((t) => !siem.has(t)),
      [],
      'alerts never forwarded to the SIEM',
    );
    await waitFor(async () => (expected.every((k) => hooks.has(k)) ? true : undefined), {
      what: 'every event at the webhook receiver',
      timeoutMs: 60_000,
    });
    await waitFor(
      async () => {
        const { rows } = await h.db.pool.query<{ n: number }>(
          'SELECT count(DISTINCT event_id)::int AS n FROM enforcement_decisions',
        );
        return rows[0]!.n >= tags.length ? true : undefined;
      },
      { what: 'a decision on every request', timeoutMs: 60_000 },
    );
    // Nothing more arrives: let every reader run further rounds, then count.
    const { rows: reqs } = await h.db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE type = 'enforcement.requested'",
    );
    await waitFor(
      async () => {
        const c = await h.db.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM outbox_cursors WHERE last_seq >= (SELECT max(seq) FROM events)',
        );
        return c.rows[0]!.n >= 2 ? true : undefined;
      },
      { what: 'both cursors at the head', timeoutMs: 30_000 },
    );
    assert.deepEqual(
      tags.filter((t) => siem.get(t) !== 1),
      [],
      'each alert once at the SIEM',
    );
    assert.deepEqual(
      expected.filter((k) => hooks.get(k) !== 1),
      [],
      'each event once at the webhook, under its idempotency key',
    );
    const { rows: dup } = await h.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM enforcement_decisions GROUP BY event_id HAVING count(*) > 1',
    );
    assert.deepEqual(dup, [], 'each request decided once');
    const { rows: dec } = await h.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM enforcement_decisions',
    );
    assert.equal(dec[0]!.n, reqs[0]!.n);
  });
});
