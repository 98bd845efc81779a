import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { decompressFrameSync } from 'lz4-napi';
import { fastCrc32c, headerChecksum, lz4Codec, lz4Frame } from './codecs.ts';
import './kafka.ts';

const require = createRequire(import.meta.url);

test('LZ4 frames round-trip: empty, one block, block boundaries, incompressible blocks stored raw', async () => {
  const text = new TextEncoder().encode('10.1.2.3 203.0.113.9 443 6 '.repeat(10_000));
  const noise = Uint8Array.from({ length: 150_000 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff);
  for (const data of [
    new Uint8Array(0),
    text.subarray(0, 1000),
    text.subarray(0, 65_536),
    text.subarray(0, 65_537),
    text,
    noise,
  ]) {
    const frame = await lz4Frame(data);
    assert.deepEqual([...frame.subarray(0, 7)], [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
    assert.equal(frame.readUInt32LE(frame.length - 4), 0, 'end mark');
    assert.deepEqual(new Uint8Array(decompressFrameSync(frame)), data);
    assert.deepEqual(new Uint8Array(await lz4Codec.decompress(frame)), data);
  }
  assert.ok((await lz4Frame(text)).length < text.length / 4, 'compresses');
  assert.ok((await lz4Frame(noise)).length <= noise.length + 7 + 4 * 4, 'raw blocks do not grow');
});

test('the frame descriptor checksum is xxHash32-based as the LZ4 frame format says', () => {
  // Known descriptors: 64 KiB and 4 MiB independent blocks, as lz4 tools write them.
  assert.equal(headerChecksum([0x60, 0x40]), 0x82);
  assert.equal(headerChecksum([0x60, 0x70]), 0x73);
});

test("kafkajs's record batch CRC32C is the native one, and gives the same result", () => {
  const crc = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
  const own = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
  const data = Buffer.from('123456789');
  assert.equal(crc(data), 0xe3069283);
  assert.equal(crc(data), own(data) >>> 0);
  assert.equal(crc, fastCrc32c, 'the native one is in place');
});
