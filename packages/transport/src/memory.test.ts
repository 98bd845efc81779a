import assert from 'node:assert/strict';
import { test } from 'node:test';
import { partitionFor } from '@wardwatch/flow-schema';
import { createMemoryTransport } from './memory.ts';

test('explicit partitions are honoured; without one the key hash chooses', async () => {
  const bus = createMemoryTransport();
  await bus.ensureTopic('t', 4);
  assert.equal(await bus.partitionCount('t'), 4);
  assert.equal(await bus.partitionCount('missing'), 0);
  const got: Array<[number, string]> = [];
  const sub = await bus.createSubscriber('g');
  await sub.start('t', async (b) => {
    for (const m of b.messages) got.push([b.partition, m.key]);
  });
  const pub = await bus.createPublisher();
  await pub.publish('t', [
    { key: 'a', value: new Uint8Array([1]), partition: 3 },
    { key: 'device-1', value: new Uint8Array([2]) },
  ]);
  await bus.idle();
  assert.deepEqual(
    got.sort(),
    [
      [3, 'a'],
      [partitionFor('device-1', 4), 'device-1'],
    ].sort(),
  );
  await bus.close();
});

test('a compacted topic keeps the latest value per key, drops tombstoned keys, and is readable from the start', async () => {
  const bus = createMemoryTransport();
  await bus.ensureTopic('state', 1, { compacted: true });
  const pub = await bus.createPublisher();
  await pub.publish('state', [
    { key: 'x', value: new Uint8Array([1]) },
    { key: 'y', value: new Uint8Array([2]) },
    { key: 'x', value: new Uint8Array([3]) },
    { key: 'y', value: null },
  ]);
  const snap = await bus.readTopic('state');
  assert.equal(snap.complete, true);
  assert.deepEqual(
    snap.messages.map((m) => [m.key, [...m.value]]),
    [['x', [3]]],
  );
  // A late subscriber starts from what compaction kept.
  const seen: string[] = [];
  const sub = await bus.createSubscriber('late');
  await sub.start('state', async (b) => {
    for (const m of b.messages) seen.push(m.key);
  });
  await bus.idle();
  assert.deepEqual(seen, ['x']);
  await bus.close();
});
