import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProfileEntry } from './model.ts';
import { draftPolicy, type EvaluationContext, judge } from './policy-model.ts';

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

// Rule semantics (what a rule and a policy allow) are tested once, in @wardwatch/policy-engine.

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
