import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Static, Type as T } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';

// Device-class signatures are data (signatures.yaml next to this package, extendable by a user file);
// this module validates them once and scores a device's features against them.

const Protocol = T.Union([T.Literal('tcp'), T.Literal('udp'), T.Literal('any')]);
const Ports = T.Array(T.Integer({ minimum: 0, maximum: 65535 }), { minItems: 1 });
const Range = T.Object(
  { min: T.Optional(T.Integer({ minimum: 0 })), max: T.Optional(T.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);

const Rule = T.Object(
  {
    weight: T.Number({ minimum: 0, maximum: 1 }),
    serves: T.Optional(
      T.Object(
        { ports: Ports, protocol: T.Optional(Protocol), minClients: T.Optional(T.Integer({ minimum: 1 })) },
        { additionalProperties: false },
      ),
    ),
    uses: T.Optional(
      T.Object(
        {
          ports: Ports,
          protocol: T.Optional(Protocol),
          minServers: T.Optional(T.Integer({ minimum: 1 })),
          maxServers: T.Optional(T.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    fanIn: T.Optional(Range),
    fanOut: T.Optional(Range),
    external: T.Optional(T.Boolean()),
    periodic: T.Optional(T.Boolean()),
    servesNothing: T.Optional(T.Boolean()),
    /** The device's manufacturer (IEEE registry, from its MAC) contains one of these, ignoring case. */
    vendor: T.Optional(T.Array(T.String({ minLength: 1 }), { minItems: 1 })),
  },
  { additionalProperties: false },
);

const ClassSignature = T.Object(
  {
    class: T.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
    title: T.String({ minLength: 1 }),
    internalOnly: T.Optional(T.Boolean()),
    heartbeat: T.Optional(T.Boolean()),
    stablePeers: T.Optional(T.Boolean()),
    criticality: T.Optional(
      T.Union([T.Literal('low'), T.Literal('medium'), T.Literal('high'), T.Literal('critical')]),
    ),
    /** Never quarantined automatically (the policy service turns a violation into a request for a person). */
    lifeCritical: T.Optional(T.Boolean()),
    rules: T.Array(Rule, { minItems: 1 }),
  },
  { additionalProperties: false },
);

const SignatureFile = T.Object(
  {
    minScore: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    services: T.Optional(
      T.Array(
        T.Object(
          { port: T.Integer({ minimum: 1, maximum: 65535 }), name: T.String() },
          { additionalProperties: false },
        ),
      ),
    ),
    classes: T.Optional(T.Array(ClassSignature)),
  },
  { additionalProperties: false },
);

/** One evidence rule of a class signature. */
export type SignatureRule = Static<typeof Rule>;
/** A device class and the evidence that identifies it. */
export type ClassSignature = Static<typeof ClassSignature>;

/** The validated signature set every classification uses. */
export interface Signatures {
  minScore: number;
  /** Ports treated as services when deciding which side of a flow is the server. */
  servicePorts: ReadonlySet<number>;
  classes: readonly ClassSignature[];
  byClass: ReadonlyMap<string, ClassSignature>;
}

/** A signature file that cannot be read or does not validate. */
export class SignatureError extends Error {
  readonly code = 'SIGNATURES_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'SignatureError';
  }
}

/** The built-in signature file shipped with the analytics service. */
export const BUILTIN_SIGNATURES = join(import.meta.dirname, '..', 'signatures.yaml');

function readSignatureFile(path: string): Static<typeof SignatureFile> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SignatureError(`cannot read signatures ${path}: ${(err as Error).message}`);
  }
  const problems = [...Value.Errors(SignatureFile, parsed)].map((e) => `${e.path || '/'}: ${e.message}`);
  if (problems.length > 0)
    throw new SignatureError(`invalid signatures ${path}:\n  ${problems.join('\n  ')}`);
  return parsed as Static<typeof SignatureFile>;
}

/**
 * Loads the built-in signatures and, when given, a user file over them: a class of the same name
 * replaces the built-in one, new classes are added, service ports are added. Throws SignatureError.
 */
export function loadSignatures(userFile?: string): Signatures {
  const files = [readSignatureFile(BUILTIN_SIGNATURES)];
  if (userFile) files.push(readSignatureFile(userFile));
  let minScore = 0.35;
  const ports = new Set<number>();
  const classes = new Map<string, ClassSignature>();
  for (const f of files) {
    if (f.minScore !== undefined) minScore = f.minScore;
    for (const s of f.services ?? []) ports.add(s.port);
    for (const c of f.classes ?? []) classes.set(c.class, c);
  }
  return { minScore, servicePorts: ports, classes: [...classes.values()], byClass: classes };
}

/** What classification looks at: a device's profile reduced to roles, ports and peers. */
export interface DeviceFeatures {
  /** Served port -> protocol -> distinct clients. */
  served: Map<number, Map<number, number>>;
  /** Used (remote service) port -> protocol -> distinct servers. */
  used: Map<number, Map<number, number>>;
  fanIn: number;
  fanOut: number;
  external: boolean;
  periodic: boolean;
  /** Manufacturer of the device's MAC (undefined: no MAC seen, locally administered, or not registered). */
  manufacturer?: string | undefined;
}

/** The outcome of classifying one device. */
export interface Classification {
  class: string;
  confidence: number;
  /** The rules that matched, in words, with their weights. */
  evidence: Array<{ rule: string; weight: number }>;
}

const protoNumber = (p: string | undefined) => (p === 'tcp' ? 6 : p === 'udp' ? 17 : 0);

function peersOn(
  table: Map<number, Map<number, number>>,
  ports: readonly number[],
  protocol: string | undefined,
): number {
  const want = protoNumber(protocol);
  let n = 0;
  for (const port of ports) {
    const byProto = table.get(port);
    if (!byProto) continue;
    for (const [proto, peers] of byProto) if (want === 0 || proto === want) n += peers;
  }
  return n;
}

const inRange = (v: number, r: { min?: number; max?: number }) =>
  (r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max);

/** Rule descriptions for the evidence, computed once per rule (classification runs per device and batch). */
const descriptions = new WeakMap<SignatureRule, string>();

function describe(rule: SignatureRule): string {
  let d = descriptions.get(rule);
  if (d === undefined) {
    const { weight: _w, ...rest } = rule;
    d = JSON.stringify(rest);
    descriptions.set(rule, d);
  }
  return d;
}

/** True when every condition of `rule` holds for the features. */
export function ruleMatches(rule: SignatureRule, f: DeviceFeatures): boolean {
  if (rule.serves) {
    const n = peersOn(f.served, rule.serves.ports, rule.serves.protocol);
    if (n < (rule.serves.minClients ?? 1)) return false;
  }
  if (rule.uses) {
    const n = peersOn(f.used, rule.uses.ports, rule.uses.protocol);
    if (n < (rule.uses.minServers ?? 1)) return false;
    if (rule.uses.maxServers !== undefined && n > rule.uses.maxServers) return false;
  }
  if (rule.fanIn && !inRange(f.fanIn, rule.fanIn)) return false;
  if (rule.fanOut && !inRange(f.fanOut, rule.fanOut)) return false;
  if (rule.external !== undefined && rule.external !== f.external) return false;
  if (rule.periodic !== undefined && rule.periodic !== f.periodic) return false;
  if (rule.servesNothing !== undefined && rule.servesNothing !== (f.fanIn === 0)) return false;
  if (rule.vendor) {
    const m = f.manufacturer?.toLowerCase();
    if (m === undefined || !rule.vendor.some((v) => m.includes(v.toLowerCase()))) return false;
  }
  return true;
}

/**
 * Scores the features against every class and returns the best one (ties: the earlier class), or
 * `unknown` when no class reaches the minimum score.
 */
export function classify(sigs: Signatures, f: DeviceFeatures): Classification {
  let best: Classification = { class: 'unknown', confidence: 0, evidence: [] };
  for (const c of sigs.classes) {
    let score = 0;
    const evidence: Array<{ rule: string; weight: number }> = [];
    for (const rule of c.rules) {
      if (ruleMatches(rule, f)) {
        score += rule.weight;
        evidence.push({ rule: describe(rule), weight: rule.weight });
      }
    }
    score = Math.min(1, Math.round(score * 1000) / 1000);
    if (score > best.confidence) best = { class: c.class, confidence: score, evidence };
  }
  return best.confidence >= sigs.minScore
    ? best
    : { class: 'unknown', confidence: 0, evidence: best.evidence };
}
