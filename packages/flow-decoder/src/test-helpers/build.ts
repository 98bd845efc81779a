// Test helpers: build NetFlow v5/v9 and IPFIX packets byte by byte.

/** Big-endian bytes of an unsigned integer of `len` bytes. */
export function be(v: number | bigint, len: number): number[] {
  let x = BigInt(v);
  const out = new Array<number>(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** Bytes of a dotted IPv4 address. */
export function v4(a: string): number[] {
  return a.split('.').map(Number);
}

/** A field specifier: [element id, length, pen?]. */
export type Spec = [number, number, number?];

function withLength(head: number[], body: number[]): number[] {
  const len = head.length + 2 + body.length;
  return [...head, ...be(len, 2), ...body];
}

/** IPFIX template set (set id 2) or options template set (3, with scope counts). */
export function ipfixTemplateSet(
  templates: { id: number; fields: Spec[]; scope?: number }[],
  setId = 2,
): number[] {
  const body: number[] = [];
  for (const t of templates) {
    body.push(...be(t.id, 2), ...be(t.fields.length, 2));
    if (setId === 3) body.push(...be(t.scope ?? 1, 2));
    for (const [id, len, pen] of t.fields) {
      body.push(...be(pen ? id | 0x8000 : id, 2), ...be(len, 2));
      if (pen) body.push(...be(pen, 4));
    }
  }
  return withLength(be(setId, 2), body);
}

/** IPFIX withdrawal of `id` (or of all templates of the set's kind when id is the set id). */
export function ipfixWithdrawalSet(ids: number[], setId = 2): number[] {
  return withLength(
    be(setId, 2),
    ids.flatMap((id) => [...be(id, 2), 0, 0]),
  );
}

/** A data set of raw record bytes (each record already encoded). */
export function dataSet(id: number, records: number[][], padding = 0): number[] {
  return withLength(be(id, 2), [...records.flat(), ...new Array(padding).fill(0)]);
}

/** An IPFIX message. */
export function ipfix(
  o: { domain?: number; seq?: number; exportSecs?: number },
  ...sets: number[][]
): Uint8Array {
  const body = sets.flat();
  return Uint8Array.from([
    ...be(10, 2),
    ...be(16 + body.length, 2),
    ...be(o.exportSecs ?? 1_700_000_000, 4),
    ...be(o.seq ?? 0, 4),
    ...be(o.domain ?? 0, 4),
    ...body,
  ]);
}

/** NetFlow v9 template flowset. */
export function v9TemplateSet(templates: { id: number; fields: Spec[] }[]): number[] {
  const body = templates.flatMap((t) => [
    ...be(t.id, 2),
    ...be(t.fields.length, 2),
    ...t.fields.flatMap(([id, len]) => [...be(id, 2), ...be(len, 2)]),
  ]);
  return withLength(be(0, 2), body);
}

/** NetFlow v9 options template flowset (scope types and option fields). */
export function v9OptionsTemplateSet(id: number, scope: Spec[], fields: Spec[]): number[] {
  const enc = (xs: Spec[]) => xs.flatMap(([t, len]) => [...be(t, 2), ...be(len, 2)]);
  const body = [
    ...be(id, 2),
    ...be(scope.length * 4, 2),
    ...be(fields.length * 4, 2),
    ...enc(scope),
    ...enc(fields),
  ];
  const pad = (4 - ((body.length + 4) % 4)) % 4;
  return withLength(be(1, 2), [...body, ...new Array(pad).fill(0)]);
}

/** A NetFlow v9 packet. */
export function v9(
  o: { sourceId?: number; seq?: number; uptime?: number; secs?: number },
  ...sets: number[][]
): Uint8Array {
  return Uint8Array.from([
    ...be(9, 2),
    ...be(sets.length, 2),
    ...be(o.uptime ?? 100_000, 4),
    ...be(o.secs ?? 1_700_000_000, 4),
    ...be(o.seq ?? 0, 4),
    ...be(o.sourceId ?? 0, 4),
    ...sets.flat(),
  ]);
}

/** A NetFlow v5 packet with `count` records (record i: 10.0.0.i -> 10.1.0.i, 100*i bytes). */
export function v5(o: {
  seq?: number;
  count?: number;
  uptime?: number;
  secs?: number;
  sampling?: number;
  engine?: number;
}): Uint8Array {
  const count = o.count ?? 2;
  const head = [
    ...be(5, 2),
    ...be(count, 2),
    ...be(o.uptime ?? 100_000, 4),
    ...be(o.secs ?? 1_700_000_000, 4),
    ...be(500_000_000, 4),
    ...be(o.seq ?? 0, 4),
    ...be(o.engine ?? 0x0102, 2),
    ...be(o.sampling ?? 0, 2),
  ];
  const recs: number[] = [];
  for (let i = 1; i <= count; i++) {
    recs.push(
      ...v4(`10.0.0.${i}`),
      ...v4(`10.1.0.${i}`),
      ...v4('10.9.9.9'),
      ...be(3, 2),
      ...be(4, 2),
      ...be(i, 4),
      ...be(100 * i, 4),
      ...be(90_000, 4),
      ...be(99_000, 4),
      ...be(40000 + i, 2),
      ...be(443, 2),
      0,
      0x12,
      6,
      0,
      ...be(65001, 2),
      ...be(65002, 2),
      24,
      16,
      0,
      0,
    );
  }
  return Uint8Array.from([...head, ...recs]);
}
