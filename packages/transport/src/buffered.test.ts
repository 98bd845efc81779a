import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBufferedPublisher, type DropReason } from './buffered.ts';
import type { Publisher, TransportMessage } from './types.ts';

/** A sink that fails while `down` is true and records what it accepted. */
function flakySink() {
  const accepted: TransportMessage[] = [];
  const state = { down: false, calls: 0 };
  const publisher: Publisher = {
    async publish(_topic, messages) {
      state.calls++;
      await new Promise((r) => setTimeout(r, 1));
      if (state.down) throw new Error('broker unavailable');
      accepted.push(...messages);
    },
    async close() {},
  };
  return { publisher, accepted, state };
}

const msg = (i: number, size = 100): TransportMessage => ({ key: `k${i}`, value: new Uint8Array(size) });

test('publishes everything offered, grouped, and reports weights', async () => {
  const sink = flakySink();
  let weight = 0;
  const b = createBufferedPublisher({
    publisher: sink.publisher,
    maxBytes: 1 << 20,
    onPublished: (_t, _n, w) => {
      weight += w;
    },
  });
  for (let i = 0; i < 100; i++) assert.equal(b.offer('t', [msg(i)], 10), 'queued');
  assert.equal(await b.drain(5_000), true);
  assert.equal(sink.accepted.length, 100);
  assert.deepEqual(
    sink.accepted.map((m) => m.key),
    Array.from({ length: 100 }, (_, i) => `k${i}`),
    'in order',
  );
  assert.equal(weight, 1000);
  assert.ok(sink.state.calls < 100, 'consecutive offers are grouped');
});

test('a group holds at most maxBatchBytes, and at most maxPartitionBatchBytes of any one partition', async () => {
  const groups: TransportMessage[][] = [];
  let release = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const b = createBufferedPublisher({
    publisher: {
      async publish(_topic, messages) {
        await gate;
        groups.push(messages);
      },
      async close() {},
    },
    maxBytes: 1 << 20,
    maxBatchBytes: 10_000,
    maxPartitionBatchBytes: 3_000,
  });
  // 40 messages of ~1 KB, partitions 0,0,0,0,1,1,1,1,...: queued while the first publish waits.
  for (let i = 0; i < 40; i++)
    b.offer('t', [{ ...msg(i, 1000 - 16 - 3), partition: Math.floor(i / 4) % 3 }], 1);
  release();
  assert.equal(await b.drain(5_000), true);
  assert.equal(groups.flat().length, 40, 'everything published, once');
  assert.deepEqual(
    groups.flat().map((m) => m.key),
    Array.from({ length: 40 }, (_, i) => `k${i}`),
    'in order',
  );
  for (const g of groups.slice(1)) {
    assert.ok(g.length <= 10, `a group of ${g.length} KB passes maxBatchBytes`);
    const per = new Map<number, number>();
    for (const m of g) per.set(m.partition!, (per.get(m.partition!) ?? 0) + 1);
    for (const [p, n] of per) assert.ok(n <= 3, `partition ${p} has ${n} KB in one group`);
  }
  assert.ok(
    groups.slice(1).some((g) => new Set(g.map((m) => m.partition)).size > 1),
    'groups span partitions',
  );
});

test('with lingerMs, requests wait for more messages unless a full request waits; drain cuts the wait short', async () => {
  const groups: TransportMessage[][] = [];
  const b = createBufferedPublisher({
    publisher: {
      async publish(_topic, messages) {
        groups.push(messages);
      },
      async close() {},
    },
    maxBytes: 1 << 20,
    maxBatchBytes: 10_000,
    // Far longer than the test: every publish below is caused by a full request or a drain.
    lingerMs: 600_000,
  });
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };
  b.offer('t', [msg(0)], 1);
  await ticks(5);
  assert.equal(groups.length, 1, 'the first request leaves at once');
  for (let i = 1; i <= 5; i++) b.offer('t', [msg(i)], 1);
  await ticks(20);
  assert.equal(groups.length, 1, 'later messages wait for the linger');
  // ~10 KB more: a full request waits, so it leaves without waiting out the linger.
  for (let i = 6; i < 106; i++) b.offer('t', [msg(i)], 1);
  await ticks(20);
  assert.ok(groups.length >= 2, 'a full request is sent at once');
  assert.ok(groups[1]!.length > 5, 'the waiting messages went together');
  assert.equal(await b.drain(5_000), true, 'drain does not wait out the linger');
  assert.deepEqual(
    groups.flat().map((m) => m.key),
    Array.from({ length: 106 }, (_, i) => `k${i}`),
  );
  await b.close(1_000);
});

test('while the sink fails it retries with backoff, queues to the bound, drops beyond it with a count, and recovers', async () => {
  const sink = flakySink();
  sink.state.down = true;
  const dropped: Record<string, number> = {};
  let published = 0;
  let retries = 0;
  const b = createBufferedPublisher({
    publisher: sink.publisher,
    maxBytes: 10_000,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    onPublished: (_t, _n, w) => {
      published += w;
    },
    onDropped: (_t, _n, w, reason: DropReason) => {
      dropped[reason] = (dropped[reason] ?? 0) + w;
    },
    onRetry: () => {
      retries++;
    },
  });
  let offered = 0;
  let queued = 0;
  for (let i = 0; i < 500; i++) {
    offered++;
    // offer never waits and never throws, whatever the sink does
    if (b.offer('t', [msg(i)], 1) === 'queued') queued++;
  }
  assert.ok(queued > 0 && queued < 500);
  assert.ok(b.queuedBytes() <= 10_000, 'memory stays bounded');
  assert.equal(dropped.buffer_full, offered - queued);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(retries >= 3, 'retried with backoff');
  assert.equal(b.failing(), true);
  sink.state.down = false;
  assert.equal(await b.drain(5_000), true, 'recovers by itself');
  assert.equal(published, queued);
  assert.equal(
    published + (dropped.buffer_full ?? 0),
    offered,
    'every offer is published or counted as dropped',
  );
  assert.equal(b.failing(), false);
});

test('close drops what could not be published in time and reports it as shutdown', async () => {
  const sink = flakySink();
  sink.state.down = true;
  const dropped: Record<string, number> = {};
  const b = createBufferedPublisher({
    publisher: sink.publisher,
    maxBytes: 1 << 20,
    initialBackoffMs: 5,
    onDropped: (_t, _n, w, reason) => {
      dropped[reason] = (dropped[reason] ?? 0) + w;
    },
  });
  for (let i = 0; i < 10; i++) b.offer('t', [msg(i)], 3);
  await b.close(50);
  assert.equal(dropped.shutdown, 30);
  assert.equal(b.offer('t', [msg(99)], 1), 'dropped');
  assert.equal(dropped.shutdown, 31);
});
