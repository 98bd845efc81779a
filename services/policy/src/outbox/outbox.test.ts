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

/** A CEF reader as the spec describes one: header split on unescaped pipes, extension on unescaped `key=`. */
function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = [];
  let cur = '';
  let i = 0;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\' && (line[i + 1] === '|' || line[i + 1] === '\\')) cur += line[++i];
    else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  const rest = line.slice(i);
  const ext: Record<string, string> = {};
  // A key is letters and digits after a space, then an unescaped "=" (a value's "=" is always "\=").
  const keys = [...rest.matchAll(/(?:^| )([A-Za-z0-9_]+)=/g)];
  keys.forEach((m, k) => {
    const start = m.index + m[0].length;
    const end = k + 1 < keys.length ? keys[k + 1]!.index : rest.length;
    ext[m[1]!] = rest
      .slice(start, end)
      .replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch === 'r' ? '\r' : ch));
  });
  return { header, ext };
}

test('CEF survives hostile alert text: a spec reader gets every field back, no raw line break ends the record', () => {
  const nasty = [
    'plain',
    'pipe | and \\ backslash',
    'ends with a backslash \\',
    'x=y and \\= already',
    'fake ext: msg=owned cs1=evil',
    'lines\r\nCRLF\rCR\nLF',
    '|leading pipe',
    'ünïcødé ✓',
  ];
  for (const s of nasty) {
    const cef = formatCef('alert.opened', {
      id: 1,
      deviceIp: '10.0.0.1',
      kind: s,
      severity: 'high',
      status: 'open',
      title: s,
      lastSeen: '2026-01-01T00:00:00.000Z',
      occurrences: 1,
      assignee: s,
    });
    assert.ok(!/[\r\n]/.test(cef), `no raw line break: ${JSON.stringify(cef)}`);
    const { header, ext } = parseCef(cef);
    assert.equal(header.length, 7, cef);
    assert.equal(header[6], '8');
    const oneLine = s.replace(/[\r\n]+/g, ' ');
    assert.equal(header[4], oneLine, 'signature id');
    assert.equal(header[5], oneLine, 'name');
    const lines = s.replace(/\r\n|\r/g, '\n');
    assert.equal(ext.msg, lines, `msg of ${JSON.stringify(s)}`);
    assert.equal(ext.cs1, lines);
    assert.equal(ext.suser, lines);
    assert.equal(ext.src, '10.0.0.1');
    assert.deepEqual(Object.keys(ext).sort(), [
      'act',
      'cat',
      'cnt',
      'cs1',
      'cs1Label',
      'externalId',
      'msg',
      'rt',
      'src',
      'suser',
    ]);
  }
});
