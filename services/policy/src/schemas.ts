import { type Static, Type as T, type TNull, type TSchema, type TUnion } from '@sinclair/typebox';
import { SEVERITIES } from '@wardwatch/flow-schema';

/** The error body of every 4xx and 5xx response. */
export const ErrorBody = T.Object(
  { error: T.Object({ code: T.String(), message: T.String() }) },
  { $id: 'Error', description: '4xx: a stable `code`; 5xx: always INTERNAL, without details' },
);
const ErrorRef = T.Ref('Error');

/** The error responses every authenticated route may give. */
export const errors = {
  400: ErrorRef,
  401: ErrorRef,
  403: ErrorRef,
  404: ErrorRef,
  409: ErrorRef,
  413: ErrorRef,
  429: ErrorRef,
  500: ErrorRef,
};

/** A response map: the success schema(s) plus the common errors. */
export const responses = <O extends Record<number, TSchema | { $ref: string }>>(ok: O) =>
  ({ ...errors, ...ok }) as typeof errors & O;

/**
 * `s` or null. A schema of one type becomes a type list (`type: ['string', 'null']`), which ajv and the
 * response serializer check directly (for an `anyOf` the serializer runs a validator on every value it
 * writes); @fastify/swagger renders it as OpenAPI 3.0's `nullable: true`. Other schemas stay an `anyOf`.
 */
export const Nullable = <S extends TSchema>(s: S) =>
  // Typed as the union it means, so the route types infer `T | null` as they do for T.Union.
  (typeof s.type === 'string' ? { ...s, type: [s.type, 'null'] } : T.Union([s, T.Null()])) as TUnion<
    [S, TNull]
  >;
const DateTime = T.String({ format: 'date-time' });
/** Free text an analyst types: bounded, no control characters. */
const Text = (max: number) =>
  T.String({ maxLength: max, pattern: '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$' });
const Name = T.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001F\\u007F]+$' });
/** A device class name: lower-case words. */
export const ClassName = T.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_.-]*$' });

export const IpParams = T.Object({
  ip: T.String({ minLength: 2, maxLength: 64, description: 'Device address' }),
});
export const IdParams = T.Object({ id: T.Integer({ minimum: 1, maximum: 9007199254740991 }) });
export const UuidParams = T.Object({ id: T.String({ format: 'uuid' }) });
export const Criticality = T.Union(['low', 'medium', 'high', 'critical'].map((c) => T.Literal(c)));
export const Severity = T.Union(SEVERITIES.map((c) => T.Literal(c)));
export const AlertStatus = T.Union(['open', 'acknowledged', 'resolved'].map((c) => T.Literal(c)));

/** A device of the inventory, as lists serve it. */
export const Device = T.Object(
  {
    ip: T.String({ description: 'Device address' }),
    mac: Nullable(T.String()),
    macKind: Nullable(
      T.Union(
        ['global', 'local', 'multicast'].map((k) => T.Literal(k)),
        {
          description:
            'global: universally administered (looked up); local: locally administered, e.g. a randomised private address (not looked up); multicast',
        },
      ),
    ),
    manufacturer: Nullable(
      T.String({
        description:
          'Organisation the IEEE registry assigns the MAC prefix to (null: not global or not registered)',
      }),
    ),
    macPrefix: Nullable(
      T.String({ description: 'The IEEE assignment that matched: 6, 7 or 9 hex digits (MA-L, MA-M, MA-S)' }),
    ),
    group: Nullable(T.Integer({ description: 'Behaviour group (GET /v1/groups)' })),
    groupSimilarity: Nullable(T.Number({ description: "Similarity to the group's shared profile, 0..1" })),
    vlan: Nullable(T.Integer()),
    exporter: Nullable(T.String()),
    inputIf: Nullable(T.Integer()),
    class: T.String({ description: 'Effective class: the analyst override, else the inferred class' }),
    inferredClass: T.String(),
    classConfidence: T.Number(),
    classOverride: Nullable(T.String()),
    label: Nullable(T.String()),
    owner: Nullable(T.String()),
    department: Nullable(T.String()),
    criticality: Nullable(T.String()),
    risk: T.Integer({ description: '0..100' }),
    quarantined: T.Boolean(),
    openAlerts: T.Integer(),
    firstSeen: DateTime,
    lastSeen: DateTime,
    bytes: T.Integer({ description: 'Bytes sent and received' }),
    packets: T.Integer(),
    flows: T.Integer(),
    bytesSent: T.Integer(),
    packetsSent: T.Integer(),
    flowsSent: T.Integer(),
    bytesReceived: T.Integer(),
    packetsReceived: T.Integer(),
    flowsReceived: T.Integer(),
  },
  { $id: 'Device' },
);
export type Device = Static<typeof Device>;

/** A behaviour group (issue 17). */
export const BehaviourGroup = T.Object({
  id: T.Integer(),
  memberCount: T.Integer(),
  members: T.Array(
    T.Object({
      ip: T.String(),
      similarity: Nullable(T.Number({ description: "Similarity to the group's shared profile, 0..1" })),
      class: T.String(),
      manufacturer: Nullable(T.String()),
    }),
    { description: 'Up to 1000 members, by address' },
  ),
  sharedProfile: T.Array(T.Object({ feature: T.String(), share: T.Number() }), {
    description: 'Features at least half the members hold, with the share of members holding each',
  }),
  classVotes: T.Record(T.String(), T.Integer(), { description: 'Members per inferred class' }),
  label: Nullable(
    T.Object({ class: T.String(), labelledBy: Nullable(T.String()), labelledAt: Nullable(DateTime) }),
  ),
  updatedAt: DateTime,
});

/** The body of PUT /v1/groups/{id}/label. */
export const GroupLabelBody = T.Object({ class: Nullable(ClassName) }, { additionalProperties: false });

export const DeviceList = T.Object({
  items: T.Array(T.Ref('Device')),
  nextCursor: Nullable(T.String({ description: 'Pass as `cursor` for the next page' })),
});

export const DeviceSort = T.Union(
  ['ip', '-risk', '-lastSeen'].map((s) => T.Literal(s)),
  { default: 'ip' },
);

export const DeviceFilters = {
  class: T.Optional(ClassName),
  subnet: T.Optional(T.String({ maxLength: 64, description: 'CIDR, e.g. 10.20.0.0/16' })),
  minRisk: T.Optional(T.Integer({ minimum: 0, maximum: 100 })),
  seenSince: T.Optional(T.String({ format: 'date-time', description: 'Last seen at or after' })),
  firstSeenSince: T.Optional(
    T.String({ format: 'date-time', description: 'First seen at or after (new devices)' }),
  ),
  vlan: T.Optional(T.Integer({ minimum: 0, maximum: 4095 })),
  exporter: T.Optional(
    T.String({ maxLength: 64, description: 'Address of the exporter that reported the device' }),
  ),
  hasOpenAlerts: T.Optional(T.Boolean()),
  quarantined: T.Optional(T.Boolean()),
  criticality: T.Optional(Criticality),
  q: T.Optional(
    T.String({
      maxLength: 100,
      description: 'Text search: address, MAC, label, owner, department, class, manufacturer',
    }),
  ),
};

export const DeviceListQuery = T.Object({
  ...DeviceFilters,
  sort: T.Optional(DeviceSort),
  limit: T.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: T.Optional(T.String({ maxLength: 200, description: 'From the previous page' })),
});
export const DeviceExportQuery = T.Object({ ...DeviceFilters });

/** Analyst fields; `null` clears a field. */
export const DevicePatch = T.Object(
  {
    label: T.Optional(Nullable(Text(200))),
    owner: T.Optional(Nullable(Text(200))),
    department: T.Optional(Nullable(Text(200))),
    criticality: T.Optional(Nullable(Criticality)),
    classOverride: T.Optional(Nullable(ClassName)),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type DevicePatch = Static<typeof DevicePatch>;

const alertProps = {
  id: T.Integer(),
  deviceIp: T.String(),
  kind: T.String(),
  severity: T.String(),
  status: T.String(),
  title: T.String(),
  firstSeen: DateTime,
  lastSeen: DateTime,
  occurrences: T.Integer(),
  assignee: Nullable(T.String()),
  resolution: Nullable(T.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
};
export const AlertSummary = T.Object(alertProps, { $id: 'Alert' });
export const Comment = T.Object({
  id: T.Integer(),
  author: T.String(),
  body: T.String(),
  createdAt: DateTime,
});
export const AlertDetail = T.Object({ ...alertProps, evidence: T.Unknown(), comments: T.Array(Comment) });
export const AlertList = T.Object({ items: T.Array(T.Ref('Alert')), nextCursor: Nullable(T.String()) });
export const AlertListQuery = T.Object({
  status: T.Optional(AlertStatus),
  severity: T.Optional(Severity),
  minSeverity: T.Optional(Severity),
  kind: T.Optional(T.String({ maxLength: 100 })),
  deviceIp: T.Optional(T.String({ maxLength: 64 })),
  assignee: T.Optional(T.String({ maxLength: 200 })),
  since: T.Optional(T.String({ format: 'date-time', description: 'Last seen at or after' })),
  limit: T.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: T.Optional(T.String({ maxLength: 40 })),
});
export const AlertAck = T.Object({ comment: T.Optional(Text(5000)) }, { additionalProperties: false });
export const AlertResolve = T.Object(
  { reason: T.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);
export const AlertAssign = T.Object({ assignee: Nullable(Name) }, { additionalProperties: false });
export const CommentInput = T.Object(
  { body: T.String({ minLength: 1, maxLength: 5000 }) },
  { additionalProperties: false },
);
export const AlertBulk = T.Object(
  {
    ids: T.Array(T.Integer({ minimum: 1 }), { minItems: 1, maxItems: 1000, uniqueItems: true }),
    action: T.Union(['acknowledge', 'resolve', 'assign', 'comment'].map((a) => T.Literal(a))),
    reason: T.Optional(T.String({ minLength: 1, maxLength: 2000 })),
    assignee: T.Optional(Nullable(Name)),
    comment: T.Optional(T.String({ minLength: 1, maxLength: 5000 })),
  },
  { additionalProperties: false },
);
export const BulkResult = T.Object({
  results: T.Array(T.Object({ id: T.Integer(), ok: T.Boolean(), code: T.Optional(T.String()) })),
});

/** Who a policy rule allows a device to talk to. */
export const Peer = T.Union([
  T.Object({ cidr: T.String({ maxLength: 64 }) }, { additionalProperties: false }),
  T.Object({ class: ClassName }, { additionalProperties: false }),
  T.Object({ group: T.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  T.Object({ local: T.Literal(true) }, { additionalProperties: false }),
  T.Object({ any: T.Literal(true) }, { additionalProperties: false }),
]);
export const Direction = T.Union([T.Literal('from-device'), T.Literal('to-device'), T.Literal('either')]);
export const Rule = T.Object(
  {
    peer: Peer,
    protocol: T.Optional(T.Integer({ minimum: 0, maximum: 255, description: 'IP protocol; absent: any' })),
    ports: T.Optional(
      T.Array(T.Integer({ minimum: 0, maximum: 65535 }), {
        maxItems: 64,
        description: 'Service ports; absent: any',
      }),
    ),
    direction: T.Optional(Direction),
    maxBytesPerMinute: T.Optional(T.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, $id: 'PolicyRule' },
);
export type Rule = Static<typeof Rule>;
export const PolicyInput = T.Object(
  {
    name: Name,
    description: T.Optional(Text(2000)),
    rules: T.Array(T.Ref('PolicyRule'), { maxItems: 500 }),
    internalOnly: T.Optional(T.Boolean()),
    action: T.Optional(T.Union([T.Literal('alert'), T.Literal('quarantine')])),
    enabled: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);
export type PolicyInput = Static<typeof PolicyInput>;
export const PolicyPatch = T.Partial(PolicyInput, { additionalProperties: false, minProperties: 1 });
export const Assignment = T.Object({
  id: T.Integer(),
  policyId: T.Integer(),
  deviceIp: Nullable(T.String()),
  deviceClass: Nullable(T.String()),
});
export const AssignmentInput = T.Union([
  T.Object({ deviceIp: T.String({ maxLength: 64 }) }, { additionalProperties: false }),
  T.Object({ deviceClass: ClassName }, { additionalProperties: false }),
]);
export const Policy = T.Object(
  {
    id: T.Integer(),
    name: T.String(),
    description: T.String(),
    rules: T.Array(T.Ref('PolicyRule')),
    internalOnly: T.Boolean(),
    action: T.String(),
    enabled: T.Boolean(),
    assignments: T.Array(Assignment),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'Policy' },
);
export const PolicyList = T.Object({ items: T.Array(T.Ref('Policy')) });
export const ServerGroup = T.Object({ name: T.String(), cidrs: T.Array(T.String()) });
export const ServerGroupInput = T.Object(
  { cidrs: T.Array(T.String({ maxLength: 64 }), { maxItems: 1000 }) },
  { additionalProperties: false },
);
export const ServerGroupParams = T.Object({
  name: T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
});

export const LearnInput = T.Object(
  {
    hours: T.Optional(T.Integer({ minimum: 1, maximum: 24 * 90 })),
    save: T.Optional(
      T.Boolean({
        description:
          "Create the drafted policy (disabled) and assign it to the device; learning again refreshes the device's draft of that name in place",
      }),
    ),
    name: T.Optional(Name),
  },
  { additionalProperties: false },
);

export const QuarantineInput = T.Object(
  {
    reason: T.String({ minLength: 1, maxLength: 2000 }),
    expiresAt: T.Optional(
      Nullable(
        T.String({ format: 'date-time', description: 'null or absent (without durationMinutes): no expiry' }),
      ),
    ),
    durationMinutes: T.Optional(T.Integer({ minimum: 1, maximum: 525600 })),
    dryRun: T.Optional(T.Boolean()),
    hours: T.Optional(
      T.Integer({ minimum: 1, maximum: 24 * 30, description: 'Dry run: hours of flows to replay' }),
    ),
  },
  { additionalProperties: false },
);
export const ReleaseInput = T.Object(
  { reason: T.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);
export const Quarantine = T.Object({
  id: T.Integer(),
  deviceIp: T.String(),
  reason: T.String(),
  source: T.String(),
  policyId: Nullable(T.Integer()),
  createdBy: T.String(),
  createdAt: DateTime,
  expiresAt: Nullable(DateTime),
  releasedAt: Nullable(DateTime),
  releasedBy: Nullable(T.String()),
  releaseReason: Nullable(T.String()),
});
export const QuarantineRequest = T.Object({
  id: T.Integer(),
  deviceIp: T.String(),
  policyId: Nullable(T.Integer()),
  reason: T.String(),
  why: T.String({ description: '"life-critical" or "breaker" (the circuit breaker was open)' }),
  evidence: T.Unknown(),
  status: T.String({ description: 'pending, approved or rejected' }),
  createdAt: DateTime,
  decidedAt: Nullable(DateTime),
  decidedBy: Nullable(T.String()),
  decisionNote: Nullable(T.String()),
  quarantineId: Nullable(T.Integer()),
});
export const QuarantineDecisionInput = T.Object(
  {
    decision: T.Union([T.Literal('approve'), T.Literal('reject')]),
    reason: T.String({ minLength: 1, maxLength: 2000 }),
    durationMinutes: T.Optional(
      T.Integer({
        minimum: 1,
        maximum: 525600,
        description: 'Approve: expiry of the quarantine (absent: none)',
      }),
    ),
  },
  { additionalProperties: false },
);
export const EnforcementDecision = T.Object({
  id: T.Integer(),
  at: DateTime,
  eventId: T.Integer(),
  deviceIp: T.String(),
  policyId: Nullable(T.Integer()),
  outcome: T.String(),
  detail: T.Record(T.String(), T.Unknown()),
});
export const DryRun = T.Object({
  dryRun: T.Literal(true),
  deviceIp: T.String(),
  hours: T.Integer(),
  source: T.String({ description: 'The table the flows came from, or "none"' }),
  limitation: Nullable(T.String()),
  policy: Nullable(T.Object({ id: T.Integer(), name: T.String() })),
  flowsConsidered: T.Integer(),
  wouldBlock: T.Array(T.Unknown()),
  wouldAllow: T.Integer(),
});

export const WebhookEventType = T.Union(
  [
    'alert.opened',
    'alert.updated',
    'device.quarantined',
    'device.released',
    'policy.violated',
    'device.new',
    'quarantine.requested',
    'exporter.new',
    'exporter.trust_changed',
    'device.group_changed',
  ].map((e) => T.Literal(e)),
);
export const WebhookInput = T.Object(
  {
    url: T.String({ format: 'uri', maxLength: 2000, pattern: '^https?://' }),
    events: T.Array(WebhookEventType, { minItems: 1, maxItems: 10, uniqueItems: true }),
    secret: T.String({ minLength: 16, maxLength: 256 }),
    description: T.Optional(Text(500)),
    enabled: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);
export const WebhookPatch = T.Partial(WebhookInput, { additionalProperties: false, minProperties: 1 });
export const Webhook = T.Object({
  id: T.String(),
  url: T.String(),
  events: T.Array(T.String()),
  description: T.String(),
  enabled: T.Boolean(),
  createdBy: T.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export const Delivery = T.Object({
  id: T.Integer(),
  eventId: T.Integer(),
  eventType: T.String(),
  idempotencyKey: T.String(),
  status: T.String(),
  attempts: T.Integer(),
  nextAttemptAt: DateTime,
  lastAttemptAt: Nullable(DateTime),
  lastStatusCode: Nullable(T.Integer()),
  lastError: Nullable(T.String()),
  deliveredAt: Nullable(DateTime),
});
export const PageQuery = T.Object({
  limit: T.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: T.Optional(T.String({ maxLength: 40 })),
});

export const ApiKey = T.Object({
  id: T.String(),
  name: T.String(),
  role: T.String(),
  prefix: T.String(),
  createdAt: DateTime,
  createdBy: Nullable(T.String()),
  lastUsedAt: Nullable(DateTime),
  expiresAt: Nullable(DateTime),
  revokedAt: Nullable(DateTime),
});
export const ApiKeyInput = T.Object(
  {
    name: Name,
    role: T.Union([T.Literal('feeds'), T.Literal('viewer'), T.Literal('analyst'), T.Literal('admin')], {
      description: 'feeds: the firewall feeds only; viewer: read; analyst: read and act; admin: everything',
    }),
    expiresAt: T.Optional(T.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
export const AuditQuery = T.Object({
  targetType: T.Optional(T.String({ maxLength: 50 })),
  targetId: T.Optional(T.String({ maxLength: 200 })),
  action: T.Optional(T.String({ maxLength: 100 })),
  limit: T.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: T.Optional(T.String({ maxLength: 40 })),
});
export const AuditRecord = T.Object({
  id: T.Integer(),
  at: DateTime,
  actorKeyId: Nullable(T.String()),
  actorName: T.String(),
  actorRole: T.String(),
  action: T.String(),
  targetType: T.String(),
  targetId: T.String(),
  before: T.Unknown(),
  after: T.Unknown(),
  requestId: Nullable(T.String()),
  sourceIp: Nullable(T.String()),
});

export const Exporter = T.Object({
  address: T.String(),
  observationDomain: T.Integer(),
  version: Nullable(T.Integer()),
  packets: T.Integer(),
  records: T.Integer(),
  recordsPerSecond: T.Number(),
  templates: T.Integer(),
  sequenceLost: T.Integer(),
  samplingInterval: T.Integer(),
  decodeErrors: T.Integer(),
  sequenceUnit: T.String({
    description: 'What sequenceLost counts: v5 flows, v9 packets, IPFIX records, sFlow samples',
  }),
  transports: T.Array(T.String()),
  collector: T.String({ description: 'The collector that reported it last' }),
  firstSeen: DateTime,
  lastSeen: DateTime,
  datagramsLost: T.Optional(
    T.Integer({ description: "sFlow agents: datagrams lost per the agent's datagram sequence numbers" }),
  ),
  interfaces: T.Optional(
    T.Array(
      T.Object({
        ifIndex: T.Integer(),
        speed: T.Number({ description: 'bits per second' }),
        adminUp: T.Boolean(),
        operUp: T.Boolean(),
        inOctets: T.Number(),
        outOctets: T.Number(),
        inErrors: T.Number(),
        outErrors: T.Number(),
        inDiscards: T.Number(),
        outDiscards: T.Number(),
        fcsErrors: T.Number(),
        lastSeen: DateTime,
      }),
      { description: "sFlow agents: interface health from the agent's latest counter sample per interface" },
    ),
  ),
});
export const Vendor = T.Union(
  ['cisco-iosxe', 'junos', 'mikrotik', 'fortigate', 'panos', 'softflowd'].map((v) => T.Literal(v)),
);
export const ExporterConfigQuery = T.Object({
  vendor: Vendor,
  collector: T.String({ maxLength: 270, description: 'host:port (IPv6: [addr]:port)' }),
  protocol: T.Optional(T.Union([T.Literal('ipfix'), T.Literal('netflow-v9')])),
  interface: T.Optional(T.String({ maxLength: 64, pattern: '^[A-Za-z0-9/._:-]+$' })),
  sourceInterface: T.Optional(T.String({ maxLength: 64, pattern: '^[A-Za-z0-9/._:-]+$' })),
  samplingRate: T.Optional(T.Integer({ minimum: 1, maximum: 65535 })),
});
