// The single truth for "is this flow allowed": rule semantics, the policy in force, evaluation with rates.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compilePolicy,
  type EvaluationContext,
  evaluateFlow,
  type FlowEntry,
  hostOf,
  judge,
  type PolicyDefinition,
  policyInForce,
  type Rule,
  ruleAllows,
} from './index.ts';

const entry = (e: Partial<FlowEntry>): FlowEntry => ({
  peer: '10.30.0.1/32',
  servicePort: 443,
  protocol: 6,
  direction: 'outbound',
  peerInternal: true,
  ...e,
});
const ctx: EvaluationContext = {
  groups: new Map([['pacs', ['10.30.0.0/24']]]),
  classes: new Map([
    ['10.20.1.11', 'workstation'],
    ['10.30.0.1', 'pacs-server'],
  ]),
};
const policy = (rules: Rule[], more: Partial<PolicyDefinition> = {}) =>
  compilePolicy({ id: 1, name: 'p', rules, internalOnly: false, action: 'alert', ...more }, ctx.groups);

describe('rules', () => {
  test('judge: peers by CIDR, group, class, local; ports, protocol and direction; internal-only', () => {
    const p = policy([
      { peer: { group: 'pacs' }, protocol: 6, ports: [443], direction: 'from-device' },
      { peer: { class: 'workstation' }, protocol: 6, ports: [3389], direction: 'to-device' },
      { peer: { cidr: '203.0.113.0/24' }, protocol: 17 },
      { peer: { local: true }, protocol: 17, ports: [53] },
    ]);
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
    const internal = policy(
      p.rules.map((r) => r.rule),
      { internalOnly: true },
    );
    assert.deepEqual(
      judge(internal, entry({ peer: '203.0.113.9/32', protocol: 17, peerInternal: false }), ctx),
      { allowed: false, reason: 'external-peer' },
    );
  });

  test('a peer group prefix is allowed only when the whole prefix is inside the rule network', () => {
    const p = policy([{ peer: { cidr: '10.1.0.0/16' } }, { peer: { group: 'pacs' } }]);
    assert.equal(judge(p, entry({ peer: '10.1.2.0/24' }), ctx).allowed, true);
    assert.equal(judge(p, entry({ peer: '10.30.0.0/24' }), ctx).allowed, true, 'the group itself');
    assert.equal(judge(p, entry({ peer: '10.0.0.0/8' }), ctx).allowed, false);
    assert.equal(judge(p, entry({ peer: '0.0.0.0/0', peerInternal: false }), ctx).allowed, false);
    assert.equal(judge(p, entry({ peer: 'fd00::/64' }), ctx).allowed, false, 'another family');
  });

  test('a bare address is a host network; a class names host peers only', () => {
    const p = policy([{ peer: { cidr: '192.0.2.7' } }, { peer: { class: 'pacs-server' } }]);
    assert.equal(judge(p, entry({ peer: '192.0.2.7/32' }), ctx).allowed, true);
    assert.equal(judge(p, entry({ peer: '192.0.2.7' }), ctx).allowed, true, 'bare entry address');
    assert.equal(judge(p, entry({ peer: '192.0.2.8/32' }), ctx).allowed, false);
    assert.equal(judge(p, entry({ peer: '10.30.0.1/32' }), ctx).allowed, true);
    assert.equal(judge(p, entry({ peer: '10.30.0.0/24' }), ctx).allowed, false, 'a group is no device');
    assert.equal(hostOf('10.30.0.1/32'), '10.30.0.1');
    assert.equal(hostOf('fd00::1/128'), 'fd00::1');
    assert.equal(hostOf('10.30.0.0/24'), undefined);
  });

  test('a rule that can match nothing (unknown group, bad CIDR, no peer) allows nothing and is reported', () => {
    const p = policy([
      { peer: { group: 'nope' } },
      { peer: { cidr: '10.0.0.0/33' } },
      { peer: {} as never },
      { peer: { cidr: '10.0.0.1/32%eth0' } },
    ]);
    assert.equal(p.rules.length, 0);
    assert.equal(p.invalid.length, 4);
    assert.match(p.invalid[0]!, /unknown server group/);
    assert.equal(judge(p, entry({}), ctx).allowed, false);
    assert.equal(ruleAllows({ peer: { group: 'nope' } }, entry({}), ctx), false);
    assert.equal(
      ruleAllows({ peer: { any: true }, protocol: 6, ports: [] }, entry({}), ctx),
      true,
      'no ports: any',
    );
  });
});

describe('evaluation with rates', () => {
  test('not-allowed carries the bytes, over-rate the bytes of the newest minute', () => {
    const p = policy([{ peer: { group: 'pacs' }, protocol: 6, maxBytesPerMinute: 1000 }]);
    assert.equal(evaluateFlow(p, entry({}), { bytes: 5000, bytesPerMinute: 900 }, ctx), undefined);
    assert.deepEqual(evaluateFlow(p, entry({}), { bytes: 5000, bytesPerMinute: 1000.4 }, ctx), {
      peer: '10.30.0.1/32',
      port: 443,
      protocol: 6,
      direction: 'from-device',
      bytes: 1000,
      reason: 'over-rate',
    });
    assert.deepEqual(
      evaluateFlow(p, entry({ protocol: 17, direction: 'inbound' }), { bytes: 7, bytesPerMinute: 7 }, ctx),
      {
        peer: '10.30.0.1/32',
        port: 443,
        protocol: 17,
        direction: 'to-device',
        bytes: 7,
        reason: 'not-allowed',
      },
    );
  });
});

describe('policy in force', () => {
  const def = (id: number, enabled: boolean) => ({ id, enabled });
  test("the device's own enabled policy, else its class's enabled one; a disabled policy is never in force", () => {
    const idx = policyInForce(
      [def(1, true), def(2, true), def(3, false)],
      [
        { policyId: 1, deviceIp: '10.0.0.1', deviceClass: null },
        { policyId: 2, deviceIp: null, deviceClass: 'infusion-pump' },
        { policyId: 3, deviceIp: '10.0.0.2', deviceClass: null },
        { policyId: 9, deviceIp: '10.0.0.3', deviceClass: null },
      ],
    );
    assert.equal(idx.resolve('10.0.0.1', 'infusion-pump')?.id, 1, 'the device wins over its class');
    assert.equal(idx.resolve('10.0.0.2', 'infusion-pump')?.id, 2, 'its own is a draft: the class one');
    assert.equal(idx.resolve('10.0.0.2', 'printer'), undefined);
    assert.equal(idx.resolve('10.0.0.3', 'infusion-pump')?.id, 2, 'an unknown policy id is ignored');
    assert.equal(idx.size(), 2);
  });
});
