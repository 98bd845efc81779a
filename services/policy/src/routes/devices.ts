import { isIP } from 'node:net';
import { type Static, Type as T } from '@sinclair/typebox';
import { withTransaction } from '@wardwatch/storage';
import type { FastifyReply } from 'fastify';
import { audit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { modelColumns } from '../device-behaviour.ts';
import { ApiError, badRequest, notFound } from '../errors.ts';
import { macSearchForm, parseCidr } from '../net.ts';
import { decodeCursor, encodeCursor } from '../params.ts';
import { policyInForceSql, VIA_SQL } from '../policy-model.ts';
import { createBatcher, hotQuery, likePattern, Where } from '../query.ts';
import {
  DeviceExportQuery,
  DeviceList,
  DeviceListQuery,
  DevicePatch,
  Device as DeviceSchema,
  IpParams,
  responses,
} from '../schemas.ts';

/**
 * A timestamptz as the API writes times (`toISOString()`: UTC, milliseconds), formatted by PostgreSQL.
 */
const isoTime = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The API's device object (the Device schema), as JSON text built by PostgreSQL from a devices row `d`.
 * The hot reads (list, detail) send it as it comes: no row parsing, Date round trips or re-serializing
 * per field in the service, which was most of its CPU per list page.
 */
const DEVICE_JSON = `json_build_object('ip', host(d.ip), 'mac', d.mac::text, 'macKind', d.mac_kind,
  'manufacturer', d.manufacturer, 'macPrefix', d.mac_prefix, 'group', d.group_id,
  'groupSimilarity', d.group_similarity, 'vlan', d.vlan,
  'exporter', host(d.exporter), 'inputIf', d.input_if, 'class', COALESCE(d.class_override, d.class),
  'inferredClass', d.class, 'classConfidence', d.class_confidence, 'classOverride', d.class_override,
  'label', d.label, 'owner', d.owner, 'department', d.department, 'criticality', d.criticality, 'risk', d.risk,
  'quarantined', d.quarantined,
  'openAlerts', (SELECT count(*)::int FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved'),
  'firstSeen', ${isoTime('d.first_seen')}, 'lastSeen', ${isoTime('d.last_seen')},
  'bytes', d.bytes_sent + d.bytes_received, 'packets', d.packets_sent + d.packets_received,
  'flows', d.flows_sent + d.flows_received, 'bytesSent', d.bytes_sent, 'packetsSent', d.packets_sent,
  'flowsSent', d.flows_sent, 'bytesReceived', d.bytes_received, 'packetsReceived', d.packets_received,
  'flowsReceived', d.flows_received)::text`;

/** The API's device object, as {@link DEVICE_JSON} builds it. */
type Device = Static<typeof DeviceSchema>;

/** A JSON response body the route sends as it is (fastify does not serialize a string with a JSON type). */
function sendJson(reply: FastifyReply, body: string): string {
  reply.header('content-type', 'application/json; charset=utf-8');
  return body;
}

/** The detail route's row: the device and the rest of the detail, each as JSON text (or null). */
type DetailRow = {
  device: string;
  class_evidence: string | null;
  alerts: string;
  policy: string | null;
  quarantine: string | null;
  model_profile: string;
  model_baselines: string;
  model_state: string | null;
  life_critical: boolean;
  life_critical_override: boolean | null;
};

/** Rejects anything that is not an IP address, before it reaches SQL. */
export function requireIp(ip: string): string {
  // Zone ids (fe80::1%eth0) are valid to Node but not to PostgreSQL's inet, and never name a device.
  if (isIP(ip) === 0 || ip.includes('%'))
    throw badRequest('BAD_ADDRESS', `${JSON.stringify(ip.slice(0, 64))} is not an IP address`);
  return ip;
}

interface Filters {
  class?: string | undefined;
  subnet?: string | undefined;
  minRisk?: number | undefined;
  seenSince?: string | undefined;
  hasOpenAlerts?: boolean | undefined;
  quarantined?: boolean | undefined;
  criticality?: string | undefined;
  q?: string | undefined;
  firstSeenSince?: string | undefined;
  vlan?: number | undefined;
  exporter?: string | undefined;
}

function filterWhere(f: Filters): Where {
  const w = new Where();
  if (f.class !== undefined) w.add('COALESCE(d.class_override, d.class) = $?', f.class);
  if (f.subnet !== undefined) {
    if (!parseCidr(f.subnet)) throw badRequest('BAD_SUBNET', 'subnet must be a CIDR such as 10.20.0.0/16');
    w.add('d.ip <<= $?::inet', f.subnet);
  }
  if (f.minRisk !== undefined) w.add('d.risk >= $?', f.minRisk);
  if (f.seenSince !== undefined) w.add('d.last_seen >= $?::timestamptz', f.seenSince);
  if (f.firstSeenSince !== undefined) w.add('d.first_seen >= $?::timestamptz', f.firstSeenSince);
  if (f.vlan !== undefined) w.add('d.vlan = $?', f.vlan);
  if (f.exporter !== undefined) {
    if (isIP(f.exporter) === 0) throw badRequest('BAD_ADDRESS', 'exporter must be an IP address');
    w.add('d.exporter = $?::inet', f.exporter);
  }
  if (f.criticality !== undefined) w.add('d.criticality = $?', f.criticality);
  if (f.quarantined !== undefined) w.add('d.quarantined = $?', f.quarantined);
  if (f.hasOpenAlerts !== undefined) {
    w.add(
      `${f.hasOpenAlerts ? '' : 'NOT '}EXISTS (SELECT 1 FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved')`,
    );
  }
  if (f.q !== undefined && f.q.length > 0) {
    const p = likePattern(f.q);
    // PostgreSQL writes a macaddr with colons; a MAC typed with hyphens, dots or none is searched that way.
    const mac = macSearchForm(f.q);
    w.add(
      `(host(d.ip) ILIKE $? OR d.mac::text ILIKE $? OR d.label ILIKE $? OR d.owner ILIKE $? OR d.department ILIKE $?
        OR COALESCE(d.class_override, d.class) ILIKE $? OR d.manufacturer ILIKE $?)`,
      p,
      mac === undefined ? p : likePattern(mac),
      p,
      p,
      p,
      p,
      p,
    );
  }
  return w;
}

/** A list row: the device as JSON text and the sort keys its cursor is made of. */
interface ListRow {
  device: string;
  ip: string;
  risk: number;
  cursor_ts: string;
}

const SORTS = {
  ip: { order: 'd.ip', key: (r: ListRow) => [r.ip] },
  '-risk': { order: 'd.risk DESC, d.ip DESC', key: (r: ListRow) => [r.risk, r.ip] },
  '-lastSeen': { order: 'd.last_seen DESC, d.ip DESC', key: (r: ListRow) => [r.cursor_ts, r.ip] },
} as const;

function cursorWhere(w: Where, sort: keyof typeof SORTS, cursor: string): void {
  const c = decodeCursor(cursor);
  const bad = () => badRequest('BAD_CURSOR', 'invalid cursor');
  if (!c) throw bad();
  if (sort === 'ip') {
    if (typeof c[0] !== 'string' || isIP(c[0]) === 0) throw bad();
    w.add('d.ip > $?::inet', c[0]);
  } else if (sort === '-risk') {
    if (typeof c[0] !== 'number' || typeof c[1] !== 'string' || isIP(c[1]) === 0) throw bad();
    w.add('(d.risk, d.ip) < ($?::int, $?::inet)', c[0], c[1]);
  } else {
    if (
      typeof c[0] !== 'string' ||
      typeof c[1] !== 'string' ||
      isIP(c[1]) === 0 ||
      Number.isNaN(Date.parse(c[0]))
    )
      throw bad();
    w.add('(d.last_seen, d.ip) < ($?::timestamptz, $?::inet)', c[0], c[1]);
  }
}

/** RFC 4180 field, with spreadsheet formula injection defused (a leading = + - @ becomes text). */
function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const CSV_COLUMNS = [
  'ip',
  'mac',
  'manufacturer',
  'class',
  'classConfidence',
  'label',
  'owner',
  'department',
  'criticality',
  'risk',
  'quarantined',
  'openAlerts',
  'firstSeen',
  'lastSeen',
  'bytesSent',
  'bytesReceived',
  'flowsSent',
  'flowsReceived',
] as const;

/** The device fields of a list item, plus everything the SOC needs on one screen. */
const DeviceDetail = T.Object({
  ...DeviceSchema.properties,
  classEvidence: T.Unknown(),
  alerts: T.Array(T.Ref('Alert'), { description: 'Open (unresolved) alerts, latest first' }),
  policy: T.Unknown({
    description:
      'The policy in force (an enabled device assignment, else an enabled class assignment), or null',
  }),
  quarantine: T.Unknown({ description: 'The active quarantine, or null' }),
  profile: T.Array(T.Unknown(), { description: 'Communication profile (analytics device_profiles)' }),
  baselines: T.Array(T.Unknown(), {
    description: 'Baselines per metric and hour slot (analytics device_baselines)',
  }),
  model: T.Unknown({
    description: 'Learning state: learnedAt, lastSent, maxSendGapMs (null before analytics)',
  }),
  lifeCritical: T.Boolean({
    description:
      'Never quarantined automatically: the override if set, else the class flag (life_critical_classes)',
  }),
  lifeCriticalOverride: T.Union([T.Boolean(), T.Null()], {
    description: 'The per-device override (PUT /v1/devices/{ip}/life-critical), null when the class decides',
  }),
});

/** Device routes: list, CSV export, detail, analyst fields. */
export function deviceRoutes(app: App, ctx: RouteContext): void {
  const { db } = ctx;

  // Device detail is the hottest read: concurrent lookups share one statement (keyed by the address
  // as the client wrote it, so IPv6 spellings map back), with alerts, policy, quarantine and the
  // behaviour model as JSON subqueries: one round trip for a whole batch.
  const detail = createBatcher<DetailRow>(async (keys) => {
    const { rows } = await hotQuery<DetailRow & { key: string }>(
      db,
      `SELECT k.key, ${DEVICE_JSON} AS device, d.class_evidence::text AS class_evidence${await modelColumns(db.pool)},
          (SELECT COALESCE(json_agg(json_build_object('id', a.id, 'deviceIp', host(a.device_ip), 'kind', a.kind,
             'severity', a.severity, 'status', a.status, 'title', a.title, 'firstSeen', a.first_seen,
             'lastSeen', a.last_seen, 'occurrences', a.occurrences, 'assignee', a.assignee,
             'resolution', a.resolution, 'createdAt', a.created_at, 'updatedAt', a.updated_at)
             ORDER BY a.last_seen DESC), '[]'::json)
           FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved')::text AS alerts,
          ${policyInForceSql(
            'd.ip',
            'COALESCE(d.class_override, d.class)',
            `json_build_object('id', p.id, 'name', p.name, 'action', p.action, 'enabled', p.enabled,
             'internalOnly', p.internal_only, 'via', ${VIA_SQL})`,
          )}::text AS policy,
          (SELECT json_build_object('id', q.id, 'reason', q.reason, 'source', q.source, 'createdBy', q.created_by,
             'createdAt', q.created_at, 'expiresAt', q.expires_at)
           FROM quarantines q WHERE q.device_ip = d.ip AND q.released_at IS NULL)::text AS quarantine,
          d.life_critical AS life_critical_override,
          COALESCE(d.life_critical, EXISTS (SELECT 1 FROM life_critical_classes c
            WHERE c.class = COALESCE(d.class_override, d.class))) AS life_critical
         FROM unnest($1::text[]) AS k(key) JOIN devices d ON d.ip = k.key::inet`,
      [keys],
    );
    return new Map(rows.map((r) => [r.key, r]));
  });

  app.get(
    '/v1/devices',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'List devices, filtered, with cursor pagination',
        tags: ['devices'],
        querystring: DeviceListQuery,
        response: responses({ 200: DeviceList }),
      },
    },
    async (req, reply) => {
      const { limit, cursor } = req.query;
      const sort = (req.query.sort ?? 'ip') as keyof typeof SORTS;
      const w = filterWhere(req.query);
      // An empty cursor is no cursor (the first page), as on the other list routes.
      if (cursor) cursorWhere(w, sort, cursor);
      const { rows } = await hotQuery<ListRow>(
        db,
        `SELECT ${DEVICE_JSON} AS device, host(d.ip) AS ip, d.risk${sort === '-lastSeen' ? ', d.last_seen::text AS cursor_ts' : ''}
         FROM devices d ${w.sql()} ORDER BY ${SORTS[sort].order} LIMIT ${w.param(limit + 1)}`,
        w.params,
      );
      const more = rows.length > limit;
      const page = rows.slice(0, limit);
      const next = more ? encodeCursor(SORTS[sort].key(page[page.length - 1]!)) : null;
      return sendJson(
        reply,
        `{"items":[${page.map((r) => r.device).join(',')}],"nextCursor":${JSON.stringify(next)}}`,
      );
    },
  );

  app.get(
    '/v1/devices.csv',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Export the filtered device list as CSV (RFC 4180)',
        tags: ['devices'],
        querystring: DeviceExportQuery,
        produces: ['text/csv'],
        response: responses({ 200: T.String({ description: 'CSV, header row first' }) }),
      },
    },
    async (req, reply) => {
      const lines: string[] = [CSV_COLUMNS.join(',')];
      let after: string | undefined;
      // Keyset pages keep each query short, so the single embedded connection is never held long.
      for (;;) {
        const w = filterWhere(req.query);
        if (after) w.add('d.ip > $?::inet', after);
        const { rows } = await db.pool.query<{ device: string }>(
          `SELECT ${DEVICE_JSON} AS device FROM devices d ${w.sql()} ORDER BY d.ip LIMIT 5000`,
          w.params,
        );
        let last: Device | undefined;
        for (const r of rows) {
          last = JSON.parse(r.device) as Device;
          const d = last as Record<string, unknown>;
          lines.push(CSV_COLUMNS.map((c) => csvField(d[c])).join(','));
        }
        if (rows.length < 5000) break;
        after = last!.ip;
      }
      reply.header('content-type', 'text/csv; charset=utf-8');
      reply.header('content-disposition', 'attachment; filename="devices.csv"');
      return `${lines.join('\r\n')}\r\n`;
    },
  );

  app.get(
    '/v1/devices/:ip',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'One device: classification and evidence, behaviour profile, baselines, open alerts, policy',
        tags: ['devices'],
        params: IpParams,
        response: responses({ 200: DeviceDetail }),
      },
    },
    async (req, reply) => {
      const ip = requireIp(req.params.ip);
      const row = await detail(ip);
      if (!row) throw notFound('DEVICE_NOT_FOUND', `no device ${ip}`);
      // The device object with the detail's members added: its JSON text without the closing brace.
      return sendJson(
        reply,
        `${row.device.slice(0, -1)},"classEvidence":${row.class_evidence ?? 'null'},"alerts":${row.alerts},` +
          `"policy":${row.policy ?? 'null'},"quarantine":${row.quarantine ?? 'null'},"profile":${row.model_profile},` +
          `"baselines":${row.model_baselines},"model":${row.model_state ?? 'null'},` +
          `"lifeCritical":${row.life_critical},"lifeCriticalOverride":${row.life_critical_override}}`,
      );
    },
  );

  app.patch(
    '/v1/devices/:ip',
    {
      config: { auth: 'analyst' },
      schema: {
        summary: 'Set analyst fields: label, owner, department, criticality, class override (null clears)',
        tags: ['devices'],
        params: IpParams,
        body: DevicePatch,
        response: responses({ 200: DeviceSchema }),
      },
    },
    async (req) => {
      const ip = requireIp(req.params.ip);
      const body = req.body;
      const columns: Record<keyof DevicePatch, string> = {
        label: 'label',
        owner: 'owner',
        department: 'department',
        criticality: 'criticality',
        classOverride: 'class_override',
      };
      return withTransaction(db.pool, async (client) => {
        const before = await client.query<{ device: string }>(
          `SELECT ${DEVICE_JSON} AS device FROM devices d WHERE d.ip = $1::inet FOR UPDATE`,
          [ip],
        );
        if (!before.rows[0]) throw notFound('DEVICE_NOT_FOUND', `no device ${ip}`);
        const sets: string[] = [];
        const params: unknown[] = [ip];
        for (const [field, column] of Object.entries(columns)) {
          const v = body[field as keyof DevicePatch];
          if (v === undefined) continue;
          params.push(v);
          sets.push(`${column} = $${params.length}`);
        }
        if (sets.length === 0) throw new ApiError(400, 'EMPTY_PATCH', 'nothing to change');
        await client.query(
          `UPDATE devices SET ${sets.join(', ')}, updated_at = now() WHERE ip = $1::inet`,
          params,
        );
        const after = await client.query<{ device: string }>(
          `SELECT ${DEVICE_JSON} AS device FROM devices d WHERE d.ip = $1::inet`,
          [ip],
        );
        const b = JSON.parse(before.rows[0].device) as Device;
        const a = JSON.parse(after.rows[0]!.device) as Device;
        const pick = (d: Device) => ({
          label: d.label,
          owner: d.owner,
          department: d.department,
          criticality: d.criticality,
          classOverride: d.classOverride,
        });
        await audit(client, req, {
          action: 'device.update',
          targetType: 'device',
          targetId: ip,
          before: pick(b),
          after: pick(a),
        });
        return a;
      });
    },
  );
}
