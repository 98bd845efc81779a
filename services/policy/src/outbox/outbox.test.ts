import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCef, syslogLine } from './cef.ts';
import { backoffMs, webhookBody } from './dispatcher.ts';
import { createSecretBox } from './secrets.ts';
import { signWebhook, verifyWebhook } from './signing.ts';

test('signature: HMAC-SHA256 over "<t>.<body>" as t=...,v1=...; verification checks MAC and age', () => {
  const sig = signWebhook('s3cret-s3cret-s3cret', '{"a":1}', 1700000000);
  // Independent value: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret-s3cret-s3cret
  assert.equal(sig, 't=1700000000,v1=79a6c445ff099c53dc2ea6b6df3e4609699187aa67857a2783882ea8fd1e5c11');
  assert.ok(verifyWebhook('s3cret-s3cret-s3cret', '{"a":1}', sig, 1700000100));
  assert.ok(!verifyWebhook('s3cret-s3cret-s3cret', '{"a":2}', sig, 1700000100), 'body changed');
  assert.ok(!verifyWebhook('s3cret-s3cret-s3cret', '{"a":1}', sig, 1700001000), 'too old');
  assert.ok(!verifyWebhook('s3cret-s3cret-s3cret', '{"a":1}', 't=x,v1=zz', 1700000000));
});

test('secrets: sealed with AES-256-GCM under the configured key, or stored as given without one', () => {
  const box = createSecretBox('a-key-of-sixteen-or-more');
  const sealed = box.seal('hook-secret');
  assert.ok(sealed.startsWith('v1:') && !sealed.includes('hook-secret'));
  assert.equal(box.open(sealed), 'hook-secret');
  assert.notEqual(box.seal('hook-secret'), sealed, 'a fresh IV each time');
  assert.throws(() => createSecretBox('another-key-of-sixteen').open(sealed));
  const plain = createSecretBox(undefined);
  assert.equal(plain.open(plain.seal('x')), 'x');
  assert.equal(box.open('plain:legacy'), 'legacy');
});

test('backoff doubles from the base up to the cap, with bounded jitter', () => {
  const o = { backoffBaseMs: 1000, backoffMaxMs: 60_000 };
  for (const [n, want] of [
    [1, 1000],
    [2, 2000],
    [5, 16_000],
    [10, 60_000],
  ] as const) {
    const v = backoffMs(n, o);
    assert.ok(v >= want * 0.8 && v <= want * 1.2, `${n}: ${v}`);
  }
});

test('the webhook body carries the idempotency key as id and is stable', () => {
  const e = {
    idempotency_key: 'k-1',
    type: 'alert.opened',
    created_at: new Date(0),
    payload: { alert: { id: 1 } },
  };
  assert.equal(webhookBody(e), webhookBody(e));
  assert.deepEqual(JSON.parse(webhookBody(e)), {
    id: 'k-1',
    type: 'alert.opened',
    createdAt: '1970-01-01T00:00:00.000Z',
    data: { alert: { id: 1 } },
  });
});

test('CEF escapes header pipes and extension equals/newlines; syslog PRI from severity (local4)', () => {
  const cef = formatCef('alert.opened', {
    id: 9,
    deviceIp: '2001:db8::5',
    kind: 'a|b\\c',
    severity: 'low',
    status: 'open',
    title: 'x=y\nz',
    lastSeen: '2026-01-01T00:00:00.000Z',
    occurrences: 2,
  });
  assert.ok(cef.startsWith('CEF:0|Wardwatch|Wardwatch|0.1.0|a\\|b\\\\c|x=y z|3|'), cef);
  assert.ok(cef.includes('c6a1=2001:db8::5') && cef.includes('c6a1Label=Device'));
  assert.ok(cef.includes('msg=x\\=y\\nz'));
  assert.ok(cef.includes('rt=1767225600000'));
  assert.match(
    syslogLine(cef, 'critical', 'host one', new Date(0)),
    /^<162>1 1970-01-01T00:00:00.000Z hostone wardwatch - ALERT - CEF:0/,
  );
  assert.match(syslogLine(cef, 'info', 'h'), /^<166>1 /);
});
