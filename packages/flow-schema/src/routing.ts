// Flow routing: where a record goes (the partition of its device) and the keys of the compacted
// state topics. Plain functions over strings, so the decode worker, the transports and any consumer
// compute the same answer without loading a Kafka client.

/**
 * The partition of a key: FNV-1a over its UTF-16 code units, modulo the partition count. Stable across
 * processes, languages and client libraries (unlike a client's default partitioner), so a producer
 * can choose partitions explicitly and any consumer can recompute where a key lives.
 */
export function partitionFor(key: string, partitions: number): number {
  if (partitions <= 1) return 0;
  return fnv1a(key) % partitions;
}

/** 32-bit FNV-1a over a string's code units, as an unsigned number. */
export function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The key of an exporter's status on `exporters-v1`: `address|observationDomain`. */
export function exporterKey(exporter: string, observationDomain: number): string {
  return `${exporter}|${observationDomain}`;
}

/** The key of a template entry on `templates-v1`: `exporter|version|domain|templateId` (or `|sampling`). */
export function templateKey(
  exporter: string,
  version: number,
  domain: number,
  id: number | 'sampling',
): string {
  return `${exporter}|${version}|${domain}|${id}`;
}
