import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createBufferedPublisher } from './buffered.ts';
import { createFileSpool } from './spool.ts';
import type { Publisher, TransportMessage } from './types.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'ww-spool-'));
const msg = (i: number, size = 100): TransportMessage => ({
  key: `k${i}`,
  value: new Uint8Array(size).fill(i % 256),
  partition: i % 4,
});

test('a file spool gives entries back in order, byte for byte, and deletes segments once released', () => {
  const dir = tmp();
  try {
    const spool = createFileSpool({ dir, maxBytes: 1 << 20, segmentBytes: 1000 });
    for (let i = 0; i < 20; i++) {
      const m: TransportMessage[] = [msg(i), { key: `tomb${i}`, value: null, headers: { h: 'é' } }];
      assert.equal(spool.append({ topic: 'flows', messages: m, weight: i }), true);
    }
    assert.ok(readdirSync(dir).length > 1, 'several segments');
    assert.equal(spool.pending(), true);
    const back = spool.read(1 << 20);
    assert.equal(back.length, 20);
    assert.equal(spool.pending(), false);
    back.forEach((e, i) => {
      assert.equal(e.topic, 'flows');
      assert.equal(e.weight, i);
      assert.equal(e.messages[0]!.key, `k${i}`);
      assert.equal(e.messages[0]!.partition, i % 4);
      assert.deepEqual(e.messages[0]!.value, msg(i).value);
      assert.deepEqual(e.messages[1], { key: `tomb${i}`, value: null, headers: { h: 'é' } });
    });
    for (const e of back) spool.release(e.token);
    assert.deepEqual(readdirSync(dir), [], 'every segment deleted');
    assert.equal(spool.bytes(), 0);
    spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file spool refuses appends past its bound, and a new spool reads what an old one left', () => {
  const dir = tmp();
  try {
    const a = createFileSpool({ dir, maxBytes: 2_000 });
    let accepted = 0;
    for (let i = 0; i < 50; i++) if (a.append({ topic: 't', messages: [msg(i)], weight: 1 })) accepted++;
    assert.ok(accepted > 5 && accepted < 50, `bounded (${accepted} accepted)`);
    assert.ok(a.bytes() <= 2_000);
    a.close();
    // A crash mid-write leaves a torn last entry: it is ignored, the whole ones are read.
    appendFileSync(join(dir, readdirSync(dir).at(-1)!), Buffer.from([200, 0, 0, 0, 1, 2]));

    const b = createFileSpool({ dir, maxBytes: 1 << 20 });
    const back = b.read(1 << 20);
    assert.deepEqual(
      back.map((e) => e.messages[0]!.key),
      Array.from({ length: accepted }, (_, i) => `k${i}`),
    );
    for (const e of back) b.release(e.token);
    assert.deepEqual(readdirSync(dir), []);
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with a spool, a failing sink loses nothing: memory overflows to disk, order kept, and a restart publishes what was left', async () => {
  const dir = tmp();
  const accepted: string[] = [];
  let down = true;
  const publisher: Publisher = {
    async publish(_topic, messages) {
      await new Promise((r) => setTimeout(r, 1));
      if (down) throw new Error('broker unavailable');
      accepted.push(...messages.map((m) => m.key));
    },
    async close() {},
  };
  try {
    let spooled = 0;
    let dropped = 0;
    const b = createBufferedPublisher({
      publisher,
      maxBytes: 2_000,
      spool: createFileSpool({ dir, maxBytes: 1 << 20 }),
      initialBackoffMs: 5,
      maxBackoffMs: 20,
      onSpooled: (_t, _n, w) => {
        spooled += w;
      },
      onDropped: (_t, _n, w) => {
        dropped += w;
      },
    });
    for (let i = 0; i < 200; i++) assert.equal(b.offer('t', [msg(i)], 1), 'queued');
    assert.ok(spooled > 150, `past the memory bound offers went to disk (${spooled})`);
    assert.ok(b.spooledBytes() > 0);
    down = false;
    assert.equal(await b.drain(10_000), true);
    assert.deepEqual(
      accepted,
      Array.from({ length: 200 }, (_, i) => `k${i}`),
      'all of them, in order',
    );
    assert.equal(b.spooledBytes(), 0, 'spool emptied');

    // Down again, then stopped: what is queued goes to the spool, and the next publisher sends it.
    down = true;
    for (let i = 200; i < 230; i++) b.offer('t', [msg(i)], 1);
    await b.close(50);
    assert.equal(dropped, 0, 'nothing dropped');
    down = false;
    const next = createBufferedPublisher({
      publisher,
      maxBytes: 2_000,
      spool: createFileSpool({ dir, maxBytes: 1 << 20 }),
    });
    assert.equal(await next.drain(10_000), true);
    assert.equal(accepted.length, 230, 'each once');
    assert.deepEqual(
      accepted.slice(200).sort(),
      Array.from({ length: 30 }, (_, i) => `k${200 + i}`).sort(),
      'the next process published what the first one left',
    );
    await next.close(1_000);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged segment is cut at the entry that cannot be read, reported, and the spool goes on', () => {
  const dir = tmp();
  try {
    const a = createFileSpool({ dir, maxBytes: 1 << 20 });
    a.append({ topic: 't', messages: [msg(1)], weight: 1 });
    a.close();
    // A frame whose length fits but whose body is not an entry, then a good entry after it.
    const file = join(dir, readdirSync(dir)[0]!);
    appendFileSync(file, Buffer.from([3, 0, 0, 0, 255, 255, 1]));
    const corrupt: number[] = [];
    const b = createFileSpool({ dir, maxBytes: 1 << 20, onCorrupt: (_p, n) => corrupt.push(n) });
    b.append({ topic: 't', messages: [msg(2)], weight: 1 });
    const back = b.read(1 << 20);
    assert.deepEqual(
      back.map((e) => e.messages[0]!.key),
      ['k1', 'k2'],
    );
    assert.deepEqual(corrupt, [7]);
    for (const e of back) b.release(e.token);
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(b.bytes(), 0);
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
