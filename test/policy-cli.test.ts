// `wardwatch apikey create|list|revoke` as an operator runs it (a child process of the real CLI), and the
// key it prints works against the running API with the role it was given.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { TEST_DATABASE_URL } from '@wardwatch/testkit';
import { type PolicyHarness, seedDevices, startPolicyHarness } from './policy-support.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');

let h: PolicyHarness;
before(async () => {
  h = await startPolicyHarness();
});
after(() => h?.close());

async function cli(...args: string[]) {
  return wardwatch('apikey', ...args);
}

async function wardwatch(...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', 'cli/src/main.ts', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      WARDWATCH_MODE: 'cluster',
      DATABASE_URL: TEST_DATABASE_URL,
      WARDWATCH_DB_SCHEMA: h.schema,
      WARDWATCH_LOG_LEVEL: 'warn',
    },
  });
}

test('apikey create --role analyst prints a key that works as an analyst; list hides it; revoke stops it', async () => {
  const { stdout } = await cli(
    'create',
    '--role',
    'analyst',
    '--name',
    'soar-playbook',
    '--expires-days',
    '30',
  );
  const created = JSON.parse(stdout) as { id: string; key: string; role: string; expiresAt: string };
  assert.equal(created.role, 'analyst');
  assert.ok(Date.parse(created.expiresAt) > Date.now() + 29 * 86_400_000);
  const as = (method: string, path: string) =>
    h.call(method, path, {
      role: null,
      headers: { authorization: `Bearer ${created.key}` },
      body: method === 'POST' ? {} : undefined,
    });
  assert.equal((await as('GET', '/v1/devices')).status, 200);
  assert.equal((await as('GET', '/v1/webhooks')).status, 403, 'an analyst is not an admin');
  const listed = await cli('list');
  assert.ok(listed.stdout.includes('soar-playbook'));
  assert.ok(!listed.stdout.includes(created.key));
  await cli('revoke', created.id);
  await new Promise((r) => setTimeout(r, h.config.api.keyCacheMs + 50));
  assert.equal((await as('GET', '/v1/devices')).status, 401);
});

test('apikey create --role feeds prints a key that reads the EDL feeds and nothing else (a firewall)', async () => {
  await seedDevices(h.db, [{ ip: '10.7.0.9', class: 'infusion-pump' }]);
  await h.db.pool.query("UPDATE devices SET quarantined = true WHERE ip = '10.7.0.9'");
  const { stdout } = await cli('create', '--role', 'feeds', '--name', 'pa-edge-1');
  const created = JSON.parse(stdout) as { key: string; role: string };
  assert.equal(created.role, 'feeds');
  const headers = { authorization: `Bearer ${created.key}` };
  const feed = await h.call('GET', '/v1/feeds/quarantined.txt', { role: null, headers });
  assert.equal(feed.status, 200);
  assert.match(feed.text, /^10\.7\.0\.9$/m);
  assert.equal((await h.call('GET', '/v1/devices', { role: null, headers })).status, 403);
});

test('apikey create refuses an unknown role', async () => {
  await assert.rejects(cli('create', '--role', 'root'), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--role must be one of feeds, viewer, analyst, admin/);
    return true;
  });
});

test('apikey create and revoke through the CLI are in the audit log, like those through the API', async () => {
  const { stdout } = await cli('create', '--role', 'admin', '--name', 'cli-audited');
  const created = JSON.parse(stdout) as { id: string; key: string };
  await cli('revoke', created.id);
  const { rows } = await h.db.pool.query<{
    action: string;
    actor_name: string;
    actor_role: string;
    after: unknown;
  }>(
    'SELECT action, actor_name, actor_role, after FROM audit_log WHERE target_type = $1 AND target_id = $2 ORDER BY id',
    ['apikey', created.id],
  );
  assert.deepEqual(
    rows.map((r) => r.action),
    ['apikey.create', 'apikey.revoke'],
  );
  for (const r of rows) {
    assert.match(r.actor_name, /^cli/);
    assert.equal(r.actor_role, 'system');
    assert.ok(!JSON.stringify(r.after).includes(created.key), 'the key itself is never audited');
  }
});

test('quarantine from the CLI takes the one quarantine path: record, feed, event, audit row as cli:<user>', async () => {
  await seedDevices(h.db, [{ ip: '10.77.0.1', class: 'workstation' }]);
  const { stdout } = await wardwatch(
    'quarantine',
    '10.77.0.1',
    '--reason',
    'ransomware beacon',
    '--minutes',
    '30',
  );
  const q = JSON.parse(stdout) as { deviceIp: string; createdBy: string; expiresAt: string };
  assert.equal(q.deviceIp, '10.77.0.1');
  assert.match(q.createdBy, /^cli:/);
  assert.ok(Date.parse(q.expiresAt) > Date.now() + 29 * 60_000);
  assert.ok((await h.call('GET', '/v1/feeds/quarantined.txt')).text.includes('10.77.0.1\n'));
  const ev = await h.db.pool.query(
    "SELECT 1 FROM events WHERE type = 'device.quarantined' AND payload->>'deviceIp' = '10.77.0.1'",
  );
  assert.equal(ev.rowCount, 1);
  const again = await wardwatch('quarantine', '10.77.0.1', '--reason', 'again').catch((e) => e);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /ALREADY_QUARANTINED/);
  await wardwatch('quarantine', 'release', '10.77.0.1', '--reason', 'reimaged');
  const audit = await h.db.pool.query<{ action: string; actor_name: string }>(
    "SELECT action, actor_name FROM audit_log WHERE target_id = '10.77.0.1' ORDER BY id",
  );
  assert.deepEqual(
    audit.rows.map((r) => r.action),
    ['device.quarantine', 'device.release'],
  );
  assert.ok(audit.rows.every((r) => r.actor_name.startsWith('cli:')));
});
