// Robustness: no input may throw or break the memory bounds. A short run here; the long one is
// `pnpm fuzz:decode`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodePacket } from './decode.ts';
import { createDecoderState } from './state.ts';
import { checkBounds, checkResult, corpusSeeds, createMutator } from './test-helpers/fuzz.ts';
import { sflowSeeds } from './test-helpers/sflow-builder.ts';

const seeds = [...corpusSeeds(), ...sflowSeeds()];

test('mutated corpus packets: no exceptions, typed results, bounded memory (about 3 s)', () => {
  // Small limits so that the bounds are actually reached.
  const state = createDecoderState({
    maxTemplates: 200,
    maxTemplatesPerExporter: 50,
    maxSessions: 40,
    maxHeldSets: 30,
    maxHeldBytes: 64 * 1024,
  });
  const next = createMutator(seeds, 20240101);
  const deadline = Date.now() + 3000;
  let n = 0;
  let errors = 0;
  let records = 0;
  while (Date.now() < deadline) {
    for (let k = 0; k < 200; k++, n++) {
      const pkt = next();
      const exporter = n % 10 === 0 ? `10.1.${(n >> 4) & 255}.${n & 15}` : `10.0.0.${n & 3}`;
      let r: ReturnType<typeof decodePacket>;
      try {
        r = decodePacket(pkt, state, { exporter, receivedMs: n * 10 });
      } catch (err) {
        assert.fail(`packet ${Buffer.from(pkt).toString('hex')} threw ${String(err)}`);
      }
      const broken = checkResult(r);
      assert.equal(broken, undefined, `packet ${Buffer.from(pkt).toString('hex')}: ${broken}`);
      if (!r.ok) errors++;
      records += r.records.length;
    }
    assert.equal(checkBounds(state), undefined);
  }
  assert.ok(n > 5000, `${n} packets`);
  assert.ok(errors > n / 20, `${errors} typed errors`);
  assert.ok(records > 0, 'some mutants still decode');
});

test('arbitrary bytes behind each version header never throw (fast-check)', () => {
  const state = createDecoderState({ maxTemplates: 100, maxHeldSets: 20 });
  fc.assert(
    fc.property(
      fc.constantFrom(5, 9, 10, 1, 0),
      fc.uint8Array({ maxLength: 600 }),
      fc.boolean(),
      (version, body, fixLen) => {
        const b = new Uint8Array(Math.max(body.length, 4));
        b.set(body);
        b[0] = version >> 8;
        b[1] = version & 0xff;
        if (version === 10 && fixLen) {
          b[2] = b.length >> 8;
          b[3] = b.length & 0xff;
        }
        const r = decodePacket(b, state, { exporter: '192.0.2.9', receivedMs: 0 });
        return checkResult(r) === undefined;
      },
    ),
    { numRuns: 3000, seed: 42 },
  );
  assert.equal(checkBounds(state), undefined);
});

test('templates with zero-length, huge and variable-length fields never throw', () => {
  const state = createDecoderState();
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 0xffff }),
          fc.constantFrom(0, 1, 2, 4, 8, 16, 255, 4096, 0xfffe, 0xffff),
        ),
        {
          minLength: 1,
          maxLength: 40,
        },
      ),
      fc.uint8Array({ maxLength: 400 }),
      (fields, data) => {
        // IPFIX message: template set (id 300) then a data set for it.
        const tpl = 4 + 4 + fields.reduce((a, [id]) => a + (id & 0x8000 ? 8 : 4), 0);
        const len = 16 + tpl + 4 + data.length;
        if (len > 0xffff) return true;
        const b = new Uint8Array(len);
        const dv = new DataView(b.buffer);
        dv.setUint16(0, 10);
        dv.setUint16(2, len);
        dv.setUint16(16, 2);
        dv.setUint16(18, tpl);
        dv.setUint16(20, 300);
        dv.setUint16(22, fields.length);
        let o = 24;
        for (const [id, flen] of fields) {
          dv.setUint16(o, id);
          dv.setUint16(o + 2, flen);
          o += 4;
          if (id & 0x8000) {
            dv.setUint32(o, 29305);
            o += 4;
          }
        }
        dv.setUint16(o, 300);
        dv.setUint16(o + 2, 4 + data.length);
        b.set(data, o + 4);
        const r = decodePacket(b, state, { exporter: '192.0.2.10', receivedMs: 0 });
        return checkResult(r) === undefined;
      },
    ),
    { numRuns: 1500, seed: 7 },
  );
});
