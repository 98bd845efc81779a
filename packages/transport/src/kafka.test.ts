// The Kafka transport against the real broker: explicit partitions, partition count from metadata,
// compacted topics read back from the beginning.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createKafkaTransport } from './kafka.ts';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const prefix = `transport_${process.pid}_${Date.now().toString(36)}.`;
const transport = createKafkaTransport({ brokers, clientId: 'transport-test', topicPrefix: prefix });

after(() => transport.close());

test('partition count comes from metadata and explicit partitions are where messages land', async () => {
  await transport.ensureTopic('p', 3);
  assert.equal(await transport.partitionCount('p'), 3);
  assert.equal(await transport.partitionCount('absent'), 0);
  const pub = await transport.createPublisher({ compression: 'gzip' });
  await pub.publish('p', [
    { key: 'a', value: new Uint8Array([1]), partition: 2 },
    { key: 'b', value: new Uint8Array([2]), partition: 0 },
    { key: 'c', value: new Uint8Array([3]), partition: 2 },
  ]);
  const snap = await transport.readTopic('p', { timeoutMs: 20_000 });
  assert.equal(snap.complete, true);
  // Partition order: partition 0 first, then 2 in offset order.
  assert.deepEqual(
    snap.messages.map((m) => m.key),
    ['b', 'a', 'c'],
  );
});

test('LZ4 batches (the default) are accepted by the broker and read back; so are gzip and none', async () => {
  await transport.ensureTopic('lz4', 1);
  const values = Array.from({ length: 300 }, (_, i) =>
    new TextEncoder().encode(`record ${i} `.repeat(50 + (i % 7))),
  );
  for (const compression of ['lz4', 'gzip', 'none'] as const) {
    const pub = await transport.createPublisher({ compression });
    await pub.publish(
      'lz4',
      values.map((value, i) => ({ key: `${compression}${i}`, value })),
    );
  }
  const snap = await transport.readTopic('lz4', { timeoutMs: 20_000 });
  assert.equal(snap.complete, true);
  assert.equal(snap.messages.length, 900);
  for (let i = 0; i < 900; i++) assert.deepEqual(snap.messages[i]!.value, values[i % 300]);
});

test('a compacted topic is created compacted and read back from the beginning, tombstones included', async () => {
  await transport.ensureTopic('state', 1, { compacted: true });
  const pub = await transport.createPublisher({ compression: 'none' });
  await pub.publish('state', [
    { key: 'x', value: new TextEncoder().encode('one') },
    { key: 'x', value: null },
    { key: 'y', value: new TextEncoder().encode('two') },
  ]);
  const snap = await transport.readTopic('state', { timeoutMs: 20_000 });
  assert.equal(snap.complete, true);
  assert.deepEqual(
    snap.messages.map((m) => [m.key, new TextDecoder().decode(m.value)]),
    [
      ['x', 'one'],
      ['x', ''],
      ['y', 'two'],
    ],
  );
  assert.deepEqual(await transport.readTopic('empty-and-absent'), { messages: [], complete: true });
});
