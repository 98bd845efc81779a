// RFC 8520 (Manufacturer Usage Description) rendering of a device policy, and a structural validator
// for MUD files derived from the YANG modules ietf-mud (RFC 8520 section 2.1) and
// ietf-access-control-list (RFC 8519), in their JSON encoding (RFC 7951):
//
//   { "ietf-mud:mud": { mud-version (uint8 = 1), mud-url (uri), last-update (date-and-time),
//       cache-validity (uint8 1..168, hours), is-supported (bool), systeminfo (string 1..60)?,
//       from-device-policy: { access-lists: { access-list: [ { name } ] } },
//       to-device-policy:   { access-lists: { access-list: [ { name } ] } } },
//     "ietf-access-control-list:acls": { acl: [ { name, type ("ipv4-acl-type" | "ipv6-acl-type" | ...),
//       aces: { ace: [ { name, matches: { ipv4|ipv6: { protocol?, source-/destination-ipvN-network? },
//         tcp|udp: { source-port?|destination-port?: { operator: "eq", port } | { lower-port, upper-port },
//                    "ietf-mud:direction-initiated"? (tcp only) },
//         "ietf-mud:mud": { local-networks: [null] | controller: uri | my-controller: [null] | ... } },
//         actions: { forwarding: "accept" | "drop" | "reject" } } ] } } ] } }
import { isIP } from 'node:net';
import { type Static, Type as T } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { PolicyDefinition } from './policy.ts';
import { parsePrefix, type Rule } from './rules.ts';

/** Parses `addr/bits` (a bare address is not a prefix here). */
const parseCidr = (s: string) => (s.includes('/') ? parsePrefix(s) : undefined);

const Port = T.Integer({ minimum: 0, maximum: 65535 });
const PortMatch = T.Union([
  T.Object(
    { operator: T.Union(['eq', 'lte', 'gte', 'neq'].map((o) => T.Literal(o))), port: Port },
    { additionalProperties: false },
  ),
  T.Object({ 'lower-port': Port, 'upper-port': Port }, { additionalProperties: false }),
]);
const L4 = (tcp: boolean) =>
  T.Object(
    {
      'source-port': T.Optional(PortMatch),
      'destination-port': T.Optional(PortMatch),
      ...(tcp
        ? {
            'ietf-mud:direction-initiated': T.Optional(
              T.Union([T.Literal('from-device'), T.Literal('to-device')]),
            ),
          }
        : {}),
    },
    { additionalProperties: false },
  );
const L3 = (v: 4 | 6) =>
  T.Object(
    {
      protocol: T.Optional(T.Integer({ minimum: 0, maximum: 255 })),
      [`source-ipv${v}-network`]: T.Optional(T.String()),
      [`destination-ipv${v}-network`]: T.Optional(T.String()),
      'ietf-acldns:src-dnsname': T.Optional(T.String({ minLength: 1 })),
      'ietf-acldns:dst-dnsname': T.Optional(T.String({ minLength: 1 })),
    },
    { additionalProperties: false },
  );
const Empty = T.Tuple([T.Null()]);
const MudMatch = T.Object(
  {
    manufacturer: T.Optional(T.String()),
    'same-manufacturer': T.Optional(Empty),
    model: T.Optional(T.String()),
    'local-networks': T.Optional(Empty),
    controller: T.Optional(T.String({ minLength: 1 })),
    'my-controller': T.Optional(Empty),
  },
  { additionalProperties: false, minProperties: 1 },
);
const Ace = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 64 }),
    matches: T.Object(
      {
        ipv4: T.Optional(L3(4)),
        ipv6: T.Optional(L3(6)),
        tcp: T.Optional(L4(true)),
        udp: T.Optional(L4(false)),
        'ietf-mud:mud': T.Optional(MudMatch),
      },
      { additionalProperties: false },
    ),
    actions: T.Object(
      {
        forwarding: T.Union(
          ['accept', 'drop', 'reject'].flatMap((a) => [
            T.Literal(a),
            T.Literal(`ietf-access-control-list:${a}`),
          ]),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const AccessLists = T.Object(
  {
    'access-lists': T.Object(
      {
        'access-list': T.Array(
          T.Object({ name: T.String({ minLength: 1 }) }, { additionalProperties: false }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** The JSON structure of a MUD file (see the grammar above). */
export const MudFileSchema = T.Object(
  {
    'ietf-mud:mud': T.Object(
      {
        'mud-version': T.Literal(1),
        'mud-url': T.String({ pattern: '^[A-Za-z][A-Za-z0-9+.-]*:' }),
        'last-update': T.String({
          pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$',
        }),
        'mud-signature': T.Optional(T.String()),
        'cache-validity': T.Optional(T.Integer({ minimum: 1, maximum: 168 })),
        'is-supported': T.Boolean(),
        systeminfo: T.Optional(T.String({ minLength: 1, maxLength: 60 })),
        'mfg-name': T.Optional(T.String()),
        'model-name': T.Optional(T.String()),
        'firmware-rev': T.Optional(T.String()),
        'software-rev': T.Optional(T.String()),
        documentation: T.Optional(T.String()),
        extensions: T.Optional(T.Array(T.String())),
        'from-device-policy': T.Optional(AccessLists),
        'to-device-policy': T.Optional(AccessLists),
      },
      { additionalProperties: false },
    ),
    'ietf-access-control-list:acls': T.Object(
      {
        acl: T.Array(
          T.Object(
            {
              name: T.String({ minLength: 1, maxLength: 64 }),
              type: T.Union(
                [
                  'ipv4-acl-type',
                  'ipv6-acl-type',
                  'eth-acl-type',
                  'mixed-eth-ipv4-acl-type',
                  'mixed-eth-ipv6-acl-type',
                  'mixed-eth-ipv4-ipv6-acl-type',
                ].map((t) => T.Literal(t)),
              ),
              aces: T.Object({ ace: T.Array(Ace) }, { additionalProperties: false }),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type MudFile = Static<typeof MudFileSchema>;

/**
 * Validates a MUD file: the JSON structure, then the constraints YANG states outside the tree (leafrefs
 * from the policies to ACL names, unique list keys, address families per ACL type, network prefixes).
 * Returns the problems found; empty means valid.
 */
export function validateMud(doc: unknown): string[] {
  const problems = [...Value.Errors(MudFileSchema, doc)].map((e) => `${e.path || '/'}: ${e.message}`);
  if (problems.length > 0) return problems;
  const mud = doc as MudFile;
  const acls = mud['ietf-access-control-list:acls'].acl;
  const names = new Set<string>();
  for (const acl of acls) {
    if (names.has(acl.name)) problems.push(`duplicate acl name ${acl.name}`);
    names.add(acl.name);
    const aceNames = new Set<string>();
    for (const ace of acl.aces.ace) {
      if (aceNames.has(ace.name)) problems.push(`acl ${acl.name}: duplicate ace ${ace.name}`);
      aceNames.add(ace.name);
      const m = ace.matches;
      if (acl.type === 'ipv4-acl-type' && m.ipv6) problems.push(`acl ${acl.name}: ipv6 match in an ipv4 acl`);
      if (acl.type === 'ipv6-acl-type' && m.ipv4) problems.push(`acl ${acl.name}: ipv4 match in an ipv6 acl`);
      if (m.tcp && m.udp) problems.push(`ace ${ace.name}: tcp and udp matches are exclusive`);
      const l3 = (m.ipv4 ?? m.ipv6) as Record<string, unknown> | undefined;
      for (const [k, v] of Object.entries(l3 ?? {})) {
        if (!k.endsWith('-network')) continue;
        const p = parseCidr(String(v));
        if (!p || p.family !== (k.includes('ipv6') ? 6 : 4))
          problems.push(`ace ${ace.name}: ${k} ${String(v)} is not a prefix`);
      }
      if (m.tcp && l3 && l3.protocol !== undefined && l3.protocol !== 6)
        problems.push(`ace ${ace.name}: tcp match with protocol ${l3.protocol}`);
      if (m.udp && l3 && l3.protocol !== undefined && l3.protocol !== 17)
        problems.push(`ace ${ace.name}: udp match with protocol ${l3.protocol}`);
    }
  }
  for (const side of ['from-device-policy', 'to-device-policy'] as const) {
    for (const ref of mud['ietf-mud:mud'][side]?.['access-lists']['access-list'] ?? []) {
      if (!names.has(ref.name)) problems.push(`${side} names acl ${ref.name}, which is not defined`);
    }
  }
  return problems;
}

/** What rendering needs besides the policy. */
export interface MudSubject {
  ip: string;
  systeminfo: string;
  mudUrl: string;
}

const prefix = (cidr: string): string => {
  const p = parseCidr(cidr);
  if (p) return `${p.address}/${p.bits}`;
  return `${cidr}/${isIP(cidr) === 6 ? 128 : 32}`;
};
const familyOf = (cidr: string): 4 | 6 => (isIP(cidr.split('/')[0]!) === 6 ? 6 : 4);

/**
 * Renders a policy as a MUD file. Each rule becomes one ACE per port (or one without port match) in the
 * from-device ACL (peer as destination), the to-device ACL (peer as source) or both ("either").
 * Peers: a CIDR is a network match; "local" is local-networks; a server group and a device class are
 * controller URIs (urn:wardwatch:server-group:NAME, urn:wardwatch:device-class:NAME) that a MUD manager
 * maps to the addresses it knows. A rate ceiling has no MUD equivalent and is left out.
 */
export function renderMud(
  policy: Pick<PolicyDefinition, 'id' | 'name' | 'rules'> & { updatedAt: string },
  subject: MudSubject,
): MudFile {
  const deviceFamily = isIP(subject.ip) === 6 ? 6 : 4;
  const base = `wardwatch-${policy.id}`;
  type Ace = MudFile['ietf-access-control-list:acls']['acl'][number]['aces']['ace'][number];
  const lists = new Map<
    string,
    { type: 'ipv4-acl-type' | 'ipv6-acl-type'; side: 'fr' | 'to'; aces: Ace[] }
  >();
  const list = (side: 'fr' | 'to', fam: 4 | 6) => {
    const name = `${base}-v${fam}${side}`;
    let l = lists.get(name);
    if (!l) {
      l = { type: fam === 4 ? 'ipv4-acl-type' : 'ipv6-acl-type', side, aces: [] };
      lists.set(name, l);
    }
    return { name, l };
  };
  policy.rules.forEach((rule: Rule, i) => {
    const fam = 'cidr' in rule.peer ? familyOf(rule.peer.cidr) : deviceFamily;
    const sides: Array<'fr' | 'to'> =
      rule.direction === 'from-device' ? ['fr'] : rule.direction === 'to-device' ? ['to'] : ['fr', 'to'];
    const ports = rule.ports && rule.ports.length > 0 ? rule.ports : [undefined];
    for (const side of sides) {
      const { l } = list(side, fam);
      ports.forEach((port, j) => {
        const matches: Ace['matches'] = {};
        const l3: Record<string, unknown> = {};
        if (rule.protocol !== undefined) l3.protocol = rule.protocol;
        if ('cidr' in rule.peer)
          l3[`${side === 'fr' ? 'destination' : 'source'}-ipv${fam}-network`] = prefix(rule.peer.cidr);
        if (Object.keys(l3).length > 0) (matches as Record<string, unknown>)[`ipv${fam}`] = l3;
        if ('local' in rule.peer) matches['ietf-mud:mud'] = { 'local-networks': [null] };
        if ('group' in rule.peer)
          matches['ietf-mud:mud'] = { controller: `urn:wardwatch:server-group:${rule.peer.group}` };
        if ('class' in rule.peer)
          matches['ietf-mud:mud'] = { controller: `urn:wardwatch:device-class:${rule.peer.class}` };
        const l4: Record<string, unknown> = {};
        // The service port is the peer's when the device sends, the device's own when it receives:
        // either way the destination port of the packets this ACL matches (the profile's service port).
        if (port !== undefined) l4['destination-port'] = { operator: 'eq', port };
        if (rule.protocol === 6 && rule.direction && rule.direction !== 'either')
          l4['ietf-mud:direction-initiated'] = rule.direction;
        if (rule.protocol === 6 && Object.keys(l4).length > 0) matches.tcp = l4 as never;
        if (rule.protocol === 17 && Object.keys(l4).length > 0) matches.udp = l4 as never;
        l.aces.push({ name: `r${i}-${side}${j}`, matches, actions: { forwarding: 'accept' } });
      });
    }
  });
  // The to-device side of a "from-device" TCP rule: replies are covered by direction-initiated, so a
  // to-device ACL always exists (possibly empty) for a complete pair.
  list('fr', deviceFamily);
  list('to', deviceFamily);
  const names = (side: 'fr' | 'to') =>
    [...lists].filter(([, l]) => l.side === side).map(([name]) => ({ name }));
  return {
    'ietf-mud:mud': {
      'mud-version': 1,
      'mud-url': subject.mudUrl,
      'last-update': policy.updatedAt,
      'cache-validity': 48,
      'is-supported': true,
      systeminfo: subject.systeminfo.slice(0, 60) || 'device',
      'from-device-policy': { 'access-lists': { 'access-list': names('fr') } },
      'to-device-policy': { 'access-lists': { 'access-list': names('to') } },
    },
    'ietf-access-control-list:acls': {
      acl: [...lists].map(([name, l]) => ({ name, type: l.type, aces: { ace: l.aces } })),
    },
  };
}
