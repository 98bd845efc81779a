// What kafkajs lacks for a fast producer: a native CRC32C for record batches, and an LZ4 codec.
import { createRequire, Module } from 'node:module';
import { promisify } from 'node:util';
import { gzip as gzipCb, unzip as unzipCb } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { compress as lz4Block, decompressFrame as lz4DecompressFrame } from 'lz4-napi';

const require = createRequire(import.meta.url);

/** CRC32C (Castagnoli) of a buffer as an unsigned number, in hardware where the CPU has it. */
export const fastCrc32c = (buffer: Uint8Array): number => crc32c(buffer) >>> 0;

/**
 * kafkajs computes the CRC32C of every record batch it produces in JavaScript, byte by byte (~0.1-0.4
 * GB/s here: with uncompressed or lightly compressed batches it was the producer's largest cost). Its
 * module `protocol/recordBatch/crc32C` is a function of a Buffer, required once by the record batch
 * encoder; putting a hardware CRC32C (`@node-rs/crc32`, same result) in its place in the module cache
 * before kafkajs loads it replaces it everywhere. kafkajs is pinned to an exact version, so the path is
 * stable; if it ever moves, kafkajs keeps its own (correct, slower) one.
 */
export function installFastCrc32c(): boolean {
  let path: string;
  try {
    path = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
  } catch {
    return false;
  }
  const cache = require.cache;
  if (cache[path]?.loaded) return false;
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = fastCrc32c;
  cache[path] = m;
  return true;
}

// kafkajs compresses GZIP at zlib's default level 6. Level 1 takes a fraction of the CPU for a few
// percent more bytes, which matters when two cores also receive and decode; any consumer reads both.
const gzip = promisify(gzipCb);
const unzip = promisify(unzipCb);

/** GZIP at level 1, on libuv's thread pool. */
export const gzipCodec = {
  compress: (encoder: { buffer: Buffer }) => gzip(encoder.buffer, { level: 1 }),
  decompress: (buffer: Buffer) => unzip(buffer),
};

/*
 * LZ4 as Kafka frames it (KIP-57): the standard LZ4 frame format,
 *
 *   magic 04 22 4D 18 | FLG | BD | HC | { u32le blockSize, block }* | u32le 0 (end mark)
 *
 * FLG 0x60 = version 01, independent blocks, no block or content checksum; BD 0x40 = blocks of at most
 * 64 KiB (what Kafka's own producer writes, readable by every client); HC = second byte of
 * xxHash32(FLG BD, seed 0). A block whose highest size bit is set is stored uncompressed. The blocks
 * are compressed natively on libuv's thread pool (lz4-napi's block API, ~2x its frame API here); the
 * frame around them is written here. Any LZ4 frame (linked blocks, checksums, other block sizes, as
 * other producers write them) is read by lz4-napi's frame decoder.
 */
const LZ4_BLOCK = 64 * 1024;
const LZ4_HEADER = Uint8Array.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, headerChecksum([0x60, 0x40])]);

/** The frame descriptor's checksum: (xxHash32(descriptor, 0) >> 8) & 0xff. */
export function headerChecksum(descriptor: readonly number[]): number {
  const P1 = 2654435761;
  const P2 = 2246822519;
  const P3 = 3266489917;
  const P5 = 374761393;
  // Short input (< 16 bytes): only the tail loop of xxHash32 runs.
  let h = (P5 + descriptor.length) >>> 0;
  let i = 0;
  for (; i + 4 <= descriptor.length; i += 4) {
    const k =
      (descriptor[i]! |
        (descriptor[i + 1]! << 8) |
        (descriptor[i + 2]! << 16) |
        (descriptor[i + 3]! << 24)) >>>
      0;
    h = (h + Math.imul(k, P3)) >>> 0;
    h = Math.imul((h << 17) | (h >>> 15), 668265263) >>> 0;
  }
  for (; i < descriptor.length; i++) {
    h = (h + Math.imul(descriptor[i]!, P5)) >>> 0;
    h = Math.imul((h << 11) | (h >>> 21), P1) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, P3) >>> 0;
  h ^= h >>> 16;
  return (h >>> 8) & 0xff;
}

/** Compresses `data` into one LZ4 frame as described above. */
export async function lz4Frame(data: Uint8Array): Promise<Buffer> {
  const jobs: Promise<Buffer>[] = [];
  for (let o = 0; o < data.length; o += LZ4_BLOCK) jobs.push(lz4Block(data.subarray(o, o + LZ4_BLOCK)));
  // lz4-napi prepends each block's uncompressed size (u32le): the frame wants the stored size instead.
  const blocks = await Promise.all(jobs);
  let total = LZ4_HEADER.length + 4;
  for (let i = 0; i < blocks.length; i++) {
    const raw = Math.min(LZ4_BLOCK, data.length - i * LZ4_BLOCK);
    total += 4 + Math.min(raw, blocks[i]!.length - 4);
  }
  const out = Buffer.allocUnsafe(total);
  out.set(LZ4_HEADER, 0);
  let p = LZ4_HEADER.length;
  for (let i = 0; i < blocks.length; i++) {
    const start = i * LZ4_BLOCK;
    const raw = Math.min(LZ4_BLOCK, data.length - start);
    const packed = blocks[i]!.length - 4;
    if (packed < raw) {
      out.writeUInt32LE(packed, p);
      out.set(blocks[i]!.subarray(4), p + 4);
      p += 4 + packed;
    } else {
      out.writeUInt32LE((0x80000000 | raw) >>> 0, p);
      out.set(data.subarray(start, start + raw), p + 4);
      p += 4 + raw;
    }
  }
  out.writeUInt32LE(0, p);
  return out;
}

/** LZ4 (Kafka's frame format), on libuv's thread pool. */
export const lz4Codec = {
  compress: (encoder: { buffer: Buffer }) => lz4Frame(encoder.buffer),
  decompress: (buffer: Buffer) => lz4DecompressFrame(buffer),
};
