import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderMud, validateMud } from './mud.ts';

// A MUD file in the shape of RFC 8520's appendix example: a device allowed to open TLS to its cloud
// service (by DNS name) and to be reached by local networks, one ACL pair per direction.
const exampleLike = {
  'ietf-mud:mud': {
    'mud-version': 1,
    'mud-url': 'https://devices.example.com/thermometer9',
    'last-update': '2024-05-01T10:00:00+02:00',
    'cache-validity': 48,
    'is-supported': true,
    systeminfo: 'An example thermometer',
    'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'mud-1-v4fr' }] } },
    'to-device-policy': { 'access-lists': { 'access-list': [{ name: 'mud-1-v4to' }] } },
  },
  'ietf-access-control-list:acls': {
    acl: [
      {
        name: 'mud-1-v4to',
        type: 'ipv4-acl-type',
        aces: {
          ace: [
            {
              name: 'cl0-todev',
              matches: {
                ipv4: { 'ietf-acldns:src-dnsname': 'cloud.example.com', protocol: 6 },
                tcp: {
                  'ietf-mud:direction-initiated': 'from-device',
                  'source-port': { operator: 'eq', port: 443 },
                },
              },
              actions: { forwarding: 'accept' },
            },
            {
              name: 'loc0-todev',
              matches: { 'ietf-mud:mud': { 'local-networks': [null] } },
              actions: { forwarding: 'accept' },
            },
          ],
        },
      },
      {
        name: 'mud-1-v4fr',
        type: 'ipv4-acl-type',
        aces: {
          ace: [
            {
              name: 'cl0-frdev',
              matches: {
                ipv4: { 'ietf-acldns:dst-dnsname': 'cloud.example.com', protocol: 6 },
                tcp: {
                  'ietf-mud:direction-initiated': 'from-device',
                  'destination-port': { operator: 'eq', port: 443 },
                },
              },
              actions: { forwarding: 'accept' },
            },
          ],
        },
      },
    ],
  },
};

test('the validator accepts a MUD file shaped like the RFC 8520 example', () => {
  assert.deepEqual(validateMud(exampleLike), []);
});

test('the validator rejects structural and referential errors', () => {
  const broken = structuredClone(exampleLike) as typeof exampleLike & Record<string, unknown>;
  broken['ietf-mud:mud']['mud-version'] = 2 as 1;
  assert.ok(validateMud(broken).length > 0, 'mud-version must be 1');
  const dangling = structuredClone(exampleLike);
  dangling['ietf-mud:mud']['from-device-policy']['access-lists']['access-list'][0]!.name = 'nope';
  assert.ok(validateMud(dangling).some((p) => p.includes('not defined')));
  const family = structuredClone(exampleLike) as unknown as {
    'ietf-access-control-list:acls': { acl: Array<{ type: string }> };
  };
  family['ietf-access-control-list:acls'].acl[0]!.type = 'ipv6-acl-type';
  assert.ok(validateMud(family).some((p) => p.includes('ipv4 match in an ipv6 acl')));
  const extra = structuredClone(exampleLike) as unknown as Record<string, Record<string, unknown>>;
  extra['ietf-mud:mud']!['colour'] = 'red';
  assert.ok(validateMud(extra).length > 0, 'unknown leaves are refused');
  const badPrefix = structuredClone(exampleLike) as unknown as {
    'ietf-access-control-list:acls': {
      acl: Array<{ aces: { ace: Array<{ matches: Record<string, unknown> }> } }>;
    };
  };
  badPrefix['ietf-access-control-list:acls'].acl[1]!.aces.ace[0]!.matches.ipv4 = {
    'destination-ipv4-network': '10.0.0.1',
    protocol: 6,
  };
  assert.ok(validateMud(badPrefix).some((p) => p.includes('not a prefix')));
});

test('renderMud maps every peer kind and direction, and its output validates', () => {
  const mud = renderMud(
    {
      id: 7,
      name: 'pump',
      updatedAt: '2026-01-01T00:00:00.000Z',
      rules: [
        { peer: { cidr: '10.30.0.0/24' }, protocol: 6, ports: [443, 104], direction: 'from-device' },
        { peer: { cidr: '2001:db8::/64' }, protocol: 17, ports: [123] },
        { peer: { local: true }, protocol: 17, ports: [53], direction: 'from-device' },
        { peer: { group: 'controller' }, protocol: 6, ports: [8443], direction: 'to-device' },
        { peer: { class: 'workstation' }, protocol: 6, ports: [3389], direction: 'to-device' },
        { peer: { any: true }, protocol: 1 },
      ],
    },
    {
      ip: '10.20.1.5',
      systeminfo: 'Infusion pump in ICU bed 3 with a very long label that overflows sixty',
      mudUrl: 'https://ww/mud',
    },
  );
  assert.deepEqual(validateMud(mud), []);
  const acls = mud['ietf-access-control-list:acls'].acl;
  assert.deepEqual(acls.map((a) => a.name).sort(), [
    'wardwatch-7-v4fr',
    'wardwatch-7-v4to',
    'wardwatch-7-v6fr',
    'wardwatch-7-v6to',
  ]);
  const fr = acls.find((a) => a.name === 'wardwatch-7-v4fr')!.aces.ace;
  assert.deepEqual(fr[0]!.matches, {
    ipv4: { protocol: 6, 'destination-ipv4-network': '10.30.0.0/24' },
    tcp: { 'destination-port': { operator: 'eq', port: 443 }, 'ietf-mud:direction-initiated': 'from-device' },
  });
  const to = acls.find((a) => a.name === 'wardwatch-7-v4to')!.aces.ace;
  const rdp = to.find(
    (a) => a.matches['ietf-mud:mud']?.controller === 'urn:wardwatch:device-class:workstation',
  )!;
  assert.deepEqual(rdp.matches.tcp, {
    'destination-port': { operator: 'eq', port: 3389 },
    'ietf-mud:direction-initiated': 'to-device',
  });
  const v6 = acls.find((a) => a.name === 'wardwatch-7-v6fr')!.aces.ace[0]!;
  assert.equal(v6.matches.ipv6?.['destination-ipv6-network'], '2001:db8::/64');
  assert.ok(mud['ietf-mud:mud'].systeminfo!.length <= 60);
});

test("a to-device rule lets peers reach the device's own service port: destination-port in the to-device ACL", () => {
  // A PACS archive (10.20.1.5) receiving DICOM on its port 104 from the modalities' network: the
  // packets towards the device carry 104 as their destination port, whatever port the modality sends from.
  const mud = renderMud(
    {
      id: 3,
      name: 'pacs',
      updatedAt: '2026-01-01T00:00:00.000Z',
      rules: [
        { peer: { cidr: '10.40.0.0/24' }, protocol: 6, ports: [104], direction: 'to-device' },
        { peer: { local: true }, protocol: 17, ports: [161], direction: 'to-device' },
      ],
    },
    { ip: '10.20.1.5', systeminfo: 'PACS archive', mudUrl: 'https://ww/mud' },
  );
  assert.deepEqual(validateMud(mud), []);
  const to = mud['ietf-access-control-list:acls'].acl.find((a) => a.name === 'wardwatch-3-v4to')!.aces.ace;
  assert.deepEqual(to[0]!.matches, {
    ipv4: { protocol: 6, 'source-ipv4-network': '10.40.0.0/24' },
    tcp: { 'destination-port': { operator: 'eq', port: 104 }, 'ietf-mud:direction-initiated': 'to-device' },
  });
  assert.deepEqual(to[1]!.matches, {
    ipv4: { protocol: 17 },
    udp: { 'destination-port': { operator: 'eq', port: 161 } },
    'ietf-mud:mud': { 'local-networks': [null] },
  });
});
