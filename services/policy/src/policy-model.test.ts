import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProfileEntry } from './device-behaviour.ts';
import { draftPolicy, type EvaluationContext, judge, type PolicyRecord } from './policy-model.ts';

const entry = (e: Partial<ProfileEntry>): ProfileEntry => ({
  peer: '10.30.0.1/32',
  servicePort: 443,
  protocol: 6,
  direction: 'outbound',
  peerInternal: true,
  flows: 1,
  bytesOut: 1,
  bytesIn: 1,
  packets: 1,
  firstSeen: '2026-01-01T00:00:00Z',
  lastSeen: '2026-01-01T00:00:00Z',
  ...e,
});
const ctx: EvaluationContext = {
  groups: new Map([['pacs', ['10.30.0.0/24']]]),
  classes: new Map([
    ['10.20.1.11', 'workstation'],
    ['10.30.0.1', 'pacs-server'],
  ]),
};

test('judge: peers by CIDR, group, class, local; ports, protocol and direction; internal-only', () => {
  const p: Pick<PolicyRecord, 'rules' | 'internalOnly'> = {
    internalOnly: false,
    rules: [
      { peer: { group: 'pacs' }, protocol: 6, ports: [443], direction: 'from-device' as const },
      { peer: { class: 'workstation' }, protocol: 6, ports: [3389], direction: 'to-device' as const },
      { peer: { cidr: '203.0.113.0/24' }, protocol: 17 },
      { peer: { local: true }, protocol: 17, ports: [53] },
    ],
  };
  assert.equal(judge(p, entry({}), ctx).allowed, true);
  assert.equal(judge(p, entry({ servicePort: 80 }), ctx).allowed, false);
  assert.equal(judge(p, entry({ direction: 'inbound' }), ctx).allowed, false, 'direction matters');
  assert.equal(
    judge(p, entry({ peer: '10.20.1.11/32', servicePort: 3389, direction: 'inbound' }), ctx).allowed,
    true,
  );
  assert.equal(
    judge(p, entry({ peer: '203.0.113.9/32', protocol: 17, servicePort: 9, peerInternal: false }), ctx)
      .allowed,
    true,
  );
  assert.equal(
    judge(p, entry({ peer: '203.0.0.0/16', protocol: 17, peerInternal: false }), ctx).allowed,
    false,
    'a wider prefix is not inside',
  );
  assert.equal(judge(p, entry({ peer: '10.99.0.1/32', protocol: 17, servicePort: 53 }), ctx).allowed, true);
  const internal = { ...p, internalOnly: true };
  assert.deepEqual(
    judge(internal, entry({ peer: '203.0.113.9/32', protocol: 17, peerInternal: false }), ctx),
    {
      allowed: false,
      reason: 'external-peer',
    },
  );
});

test('draftPolicy: groups win, classes next, many internal peers become local networks, ports merged', () => {
  const entries = [
    entry({ peer: '10.30.0.1/32', servicePort: 443 }),
    entry({ peer: '10.30.0.1/32', servicePort: 104 }),
    entry({ peer: '10.20.1.11/32', servicePort: 3389, direction: 'inbound' }),
    ...[1, 2, 3, 4].map((i) => entry({ peer: `10.40.0.${i}/32`, servicePort: 161, protocol: 17 })),
    entry({ peer: '198.51.100.0/24', servicePort: 443, peerInternal: false }),
  ];
  const d = draftPolicy('x', entries, ctx);
  assert.deepEqual(d.rules, [
    { peer: { group: 'pacs' }, protocol: 6, direction: 'from-device', ports: [104, 443] },
    { peer: { class: 'workstation' }, protocol: 6, direction: 'to-device', ports: [3389] },
    { peer: { local: true }, protocol: 17, direction: 'from-device', ports: [161] },
    { peer: { cidr: '198.51.100.0/24' }, protocol: 6, direction: 'from-device', ports: [443] },
  ]);
  assert.equal(d.internalOnly, false);
  assert.equal(d.enabled, false);
  for (const e of entries)
    assert.equal(judge({ rules: d.rules as never, internalOnly: d.internalOnly }, e, ctx).allowed, true);
});
