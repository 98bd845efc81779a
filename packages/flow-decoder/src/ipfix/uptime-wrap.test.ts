import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePacket } from '../decode.ts';
import { createDecoderState } from '../state.ts';

/** An IPFIX message: init time as options data, then one flow whose sysUpTime fields are `start`/`end`. */
function message(exportSec: number, initMs: number, start: number, end: number): Uint8Array {
  const sets: Buffer[] = [];
  // Template 300: flowStartSysUpTime (22), flowEndSysUpTime (21), sourceIPv4Address (8).
  const tpl = Buffer.alloc(4 + 4 + 12);
  tpl.writeUInt16BE(2, 0);
  tpl.writeUInt16BE(tpl.length, 2);
  tpl.writeUInt16BE(300, 4);
  tpl.writeUInt16BE(3, 6);
  for (const [i, v] of [22, 4, 21, 4, 8, 4].entries()) tpl.writeUInt16BE(v, 8 + i * 2);
  sets.push(tpl);
  // Options template 301: scope meteringProcessId (143), systemInitTimeMilliseconds (160).
  const otpl = Buffer.alloc(4 + 6 + 8);
  otpl.writeUInt16BE(3, 0);
  otpl.writeUInt16BE(otpl.length, 2);
  otpl.writeUInt16BE(301, 4);
  otpl.writeUInt16BE(2, 6);
  otpl.writeUInt16BE(1, 8);
  for (const [i, v] of [143, 4, 160, 8].entries()) otpl.writeUInt16BE(v, 10 + i * 2);
  sets.push(otpl);
  const odata = Buffer.alloc(4 + 12);
  odata.writeUInt16BE(301, 0);
  odata.writeUInt16BE(odata.length, 2);
  odata.writeUInt32BE(4242, 4);
  odata.writeBigUInt64BE(BigInt(initMs), 8);
  sets.push(odata);
  const data = Buffer.alloc(4 + 12);
  data.writeUInt16BE(300, 0);
  data.writeUInt16BE(data.length, 2);
  data.writeUInt32BE(start >>> 0, 4);
  data.writeUInt32BE(end >>> 0, 8);
  Buffer.from([10, 0, 0, 1]).copy(data, 12);
  sets.push(data);
  const body = Buffer.concat(sets);
  const h = Buffer.alloc(16);
  h.writeUInt16BE(10, 0);
  h.writeUInt16BE(16 + body.length, 2);
  h.writeUInt32BE(exportSec, 4);
  h.writeUInt32BE(1, 8);
  h.writeUInt32BE(7, 12);
  return Buffer.concat([h, body]);
}

test('IPFIX sysUpTime times are absolute: init time plus uptime', () => {
  const init = 1_764_000_000_500;
  const r = decodePacket(message(1_764_000_100, init, 5_000, 9_000), createDecoderState(), {
    exporter: '192.0.2.1',
    receivedMs: 0,
  });
  assert.equal(r.ok, true);
  assert.equal(r.records[0]?.startMs, init + 5_000);
  assert.equal(r.records[0]?.endMs, init + 9_000);
});

test('IPFIX sysUpTime below zero (softflowd replaying an older capture) is not 49.7 days in the future', () => {
  // The flow happened 60 s before the exporter's init time; the 32-bit counter went below zero.
  const init = 1_764_000_000_500;
  const exportSec = Math.floor(init / 1000);
  const r = decodePacket(message(exportSec, init, -60_000, -59_000), createDecoderState(), {
    exporter: '192.0.2.1',
    receivedMs: 0,
  });
  assert.equal(r.records[0]?.startMs, init - 60_000);
  assert.equal(r.records[0]?.endMs, init - 59_000);
});
