// Device policies, defined once for every service: rule semantics, the policy in force for a device,
// the judgement of a flow entry against it, and the RFC 8520 (MUD) mapping. Pure code: no database,
// no HTTP; each service loads policies its own way and judges them here.
export { type MudFile, MudFileSchema, type MudSubject, renderMud, validateMud } from './mud.ts';
export {
  allowingRule,
  type CompiledPolicy,
  compilePolicy,
  evaluateFlow,
  type Judgement,
  judge,
  overRate,
  type PolicyAssignment,
  type PolicyDefinition,
  type PolicyIndex,
  policyInForce,
  type Violation,
} from './policy.ts';
export {
  type EvaluationContext,
  type FlowEntry,
  hostOf,
  parsePrefix,
  type Rule,
  type RulePeer,
  ruleAllows,
} from './rules.ts';
