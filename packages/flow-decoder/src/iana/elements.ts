import { IANA_ELEMENT_ROWS } from './elements.gen.ts';
import type { AbstractDataType } from './types.ts';

/** One IPFIX information element as the IANA registry (or a vendor) defines it. */
export interface InformationElement {
  id: number;
  /** Private Enterprise Number; 0 for IANA elements, 29305 for RFC 5103 reverse elements. */
  pen: number;
  name: string;
  type: AbstractDataType;
  semantics: string;
  units: string;
}

/** RFC 5103: the PEN whose element ids are the reverse direction of the IANA element of that id. */
export const REVERSE_PEN = 29305;

const byId: (InformationElement | undefined)[] = [];
for (const [id, name, type, semantics, units] of IANA_ELEMENT_ROWS) {
  byId[id] = { id, pen: 0, name, type, semantics, units };
}

// Elements missing from the 2013 registry copy that exporters send: NetFlow v9 (RFC 3954) field
// types the copy lists only as "assigned for NetFlow v9 compatibility", and later registrations.
const SUPPLEMENT: readonly [number, string, AbstractDataType][] = [
  [34, 'samplingInterval', 'unsigned32'],
  [35, 'samplingAlgorithm', 'unsigned8'],
  [38, 'engineType', 'unsigned8'],
  [39, 'engineId', 'unsigned8'],
  [48, 'samplerId', 'unsigned8'],
  [49, 'samplerMode', 'unsigned8'],
  [50, 'samplerRandomInterval', 'unsigned32'],
  [51, 'classId', 'unsigned8'],
  [84, 'samplerName', 'string'],
  [87, 'flagsAndSamplerId', 'unsigned32'],
  [89, 'forwardingStatus', 'unsigned32'],
  [92, 'srcTrafficIndex', 'unsigned32'],
  [93, 'dstTrafficIndex', 'unsigned32'],
  [100, 'className', 'string'],
  [403, 'rtpSequenceNumber', 'unsigned16'],
  [404, 'rtpPayloadType', 'unsigned8'],
  [407, 'mobileIMSI', 'string'],
  [420, 'natQuotaExceededEvent', 'unsigned32'],
  [470, 'layer2FrameDeltaCount', 'unsigned64'],
  [471, 'layer2FrameTotalCount', 'unsigned64'],
  [490, 'srhFlagsIPv6', 'unsigned8'],
  [492, 'srhSegmentIPv6BasicList', 'basicList'],
  [495, 'srhActiveSegmentIPv6', 'ipv6Address'],
  [500, 'srhSegmentIPv6EndpointBehavior', 'unsigned16'],
];
for (const [id, name, type] of SUPPLEMENT) byId[id] ??= { id, pen: 0, name, type, semantics: '', units: '' };

const reverseCache = new Map<number, InformationElement>();

/**
 * Looks up an element by id and PEN: IANA ids, and RFC 5103 reverse elements (PEN 29305) named
 * `reverse<Name>`; undefined for other enterprises and unassigned ids.
 */
export function informationElement(id: number, pen = 0): InformationElement | undefined {
  if (pen === 0) return byId[id];
  if (pen !== REVERSE_PEN) return undefined;
  let e = reverseCache.get(id);
  if (e === undefined) {
    const fwd = byId[id];
    if (fwd === undefined) return undefined;
    e = { ...fwd, pen, name: `reverse${fwd.name[0]!.toUpperCase()}${fwd.name.slice(1)}` };
    reverseCache.set(id, e);
  }
  return e;
}
