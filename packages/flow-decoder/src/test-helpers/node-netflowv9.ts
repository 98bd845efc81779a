// Test/bench helper: drives node-netflowv9 (GPL-2.0 devDependency, never shipped) without its
// socket, as a reference decoder for NetFlow v5/v9.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** What node-netflowv9 returns for one packet: its header and flows with its own field names. */
export interface ReferenceDecode {
  header: Record<string, number>;
  flows: Record<string, unknown>[];
}

/** A node-netflowv9 decoder instance with its own template cache (keyed by address:port). */
export interface ReferenceDecoder {
  decode(buf: Buffer, address: string, port: number): ReferenceDecode | undefined;
}

interface NfInstance {
  templates: Record<string, unknown>;
  nfTypes: Record<number, unknown>;
  nfScope: Record<number, unknown>;
  nfPktDecode(
    msg: Buffer,
    rinfo: { address: string; port: number; size: number },
  ): ReferenceDecode | undefined;
}

/** Creates a node-netflowv9 decoder driven directly through `nfPktDecode`. */
export function createReferenceDecoder(): ReferenceDecoder {
  const NetFlowV9 = require('node-netflowv9') as { prototype: object };
  const types = require('node-netflowv9/js/nf9/nftypes.js') as {
    nfTypes: Record<number, unknown>;
    nfScope: Record<number, unknown>;
  };
  const nf = Object.create(NetFlowV9.prototype) as NfInstance;
  nf.templates = {};
  nf.nfTypes = { ...types.nfTypes };
  nf.nfScope = { ...types.nfScope };
  return {
    decode: (buf, address, port) => nf.nfPktDecode(buf, { address, port, size: buf.length }),
  };
}

/** node-netflowv9's field name -> NetFlow v9 element id. */
export function referenceFieldIds(): Map<string, number> {
  const types = require('node-netflowv9/js/nf9/nftypes.js') as { nfTypes: Record<string, { name: string }> };
  return new Map(Object.entries(types.nfTypes).map(([id, t]) => [t.name, Number(id)]));
}
