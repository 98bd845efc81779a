import { isIP } from 'node:net';
import { Type as T } from '@sinclair/typebox';
import { withTransaction } from '@wardwatch/storage';
import { audit } from '../audit.ts';
import {
  type App,
  createBatcher,
  decodeCursor,
  encodeCursor,
  hotQuery,
  likePattern,
  type RouteContext,
  Where,
} from '../context.ts';
import { ApiError, badRequest, notFound } from '../errors.ts';
import { modelColumns } from '../model.ts';
import { parseCidr } from '../net.ts';
import {
  DeviceExportQuery,
  DeviceList,
  DeviceListQuery,
  DevicePatch,
  Device as DeviceSchema,
  IpParams,
  responses,
} from '../schemas.ts';

/** The columns every device response is built from. */
export const DEVICE_COLUMNS = `host(d.ip) AS ip, d.mac::text AS mac, d.vlan, host(d.exporter) AS exporter, d.input_if,
  COALESCE(d.class_override, d.class) AS eff_class, d.class, d.class_confidence, d.class_override, d.label, d.owner,
  d.department, d.criticality, d.risk, d.quarantined, d.first_seen, d.last_seen, d.bytes_sent, d.packets_sent,
  d.flows_sent, d.bytes_received, d.packets_received, d.flows_received,
  (SELECT count(*)::int FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved') AS open_alerts`;

/** A devices row as DEVICE_COLUMNS selects it. */
export interface DeviceRow {
  ip: string;
  mac: string | null;
  vlan: number | null;
  exporter: string | null;
  input_if: number | null;
  eff_class: string;
  class: string;
  class_confidence: number;
  class_override: string | null;
  label: string | null;
  owner: string | null;
  department: string | null;
  criticality: string | null;
  risk: number;
  quarantined: boolean;
  first_seen: Date;
  last_seen: Date;
  bytes_sent: number;
  packets_sent: number;
  flows_sent: number;
  bytes_received: number;
  packets_received: number;
  flows_received: number;
  open_alerts: number;
}

/** The API shape of a device row. */
export function toDevice(r: DeviceRow) {
  return {
    ip: r.ip,
    mac: r.mac,
    vlan: r.vlan,
    exporter: r.exporter,
    inputIf: r.input_if,
    class: r.eff_class,
    inferredClass: r.class,
    classConfidence: r.class_confidence,
    classOverride: r.class_override,
    label: r.label,
    owner: r.owner,
    department: r.department,
    criticality: r.criticality,
    risk: r.risk,
    quarantined: r.quarantined,
    openAlerts: r.open_alerts,
    firstSeen: r.first_seen.toISOString(),
    lastSeen: r.last_seen.toISOString(),
    bytes: r.bytes_sent + r.bytes_received,
    packets: r.packets_sent + r.packets_received,
    flows: r.flows_sent + r.flows_received,
    bytesSent: r.bytes_sent,
    packetsSent: r.packets_sent,
    flowsSent: r.flows_sent,
    bytesReceived: r.bytes_received,
    packetsReceived: r.packets_received,
    flowsReceived: r.flows_received,
  };
}

/** A device row with the detail route's JSON columns. */
type DetailRow = DeviceRow & {
  class_evidence: unknown;
  alerts: unknown[];
  policy: unknown;
  quarantine: unknown;
  model_profile: unknown[];
  model_baselines: unknown[];
  model_state: unknown;
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
  if (f.criticality !== undefined) w.add('d.criticality = $?', f.criticality);
  if (f.quarantined !== undefined) w.add('d.quarantined = $?', f.quarantined);
  if (f.hasOpenAlerts !== undefined) {
    w.add(
      `${f.hasOpenAlerts ? '' : 'NOT '}EXISTS (SELECT 1 FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved')`,
    );
  }
  if (f.q !== undefined && f.q.length > 0) {
    const p = likePattern(f.q);
    w.add(
      `(host(d.ip) ILIKE $? OR d.mac::text ILIKE $? OR d.label ILIKE $? OR d.owner ILIKE $? OR d.department ILIKE $?
        OR COALESCE(d.class_override, d.class) ILIKE $?)`,
      p,
      p,
      p,
      p,
      p,
      p,
    );
  }
  return w;
}

const SORTS = {
  ip: { order: 'd.ip', key: (r: DeviceRow & { cursor_ts: string }) => [r.ip] },
  '-risk': { order: 'd.risk DESC, d.ip DESC', key: (r: DeviceRow & { cursor_ts: string }) => [r.risk, r.ip] },
  '-lastSeen': {
    order: 'd.last_seen DESC, d.ip DESC',
    key: (r: DeviceRow & { cursor_ts: string }) => [r.cursor_ts, r.ip],
  },
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
    description: 'The effective policy (a device assignment wins over a class one), or null',
  }),
  quarantine: T.Unknown({ description: 'The active quarantine, or null' }),
  profile: T.Array(T.Unknown(), { description: 'Communication profile (analytics device_profiles)' }),
  baselines: T.Array(T.Unknown(), {
    description: 'Baselines per metric and hour slot (analytics device_baselines)',
  }),
  model: T.Unknown({
    description: 'Learning state: learnedAt, lastSent, maxSendGapMs (null before analytics)',
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
      `SELECT k.key, ${DEVICE_COLUMNS}, d.class_evidence${await modelColumns(db.pool)},
          (SELECT COALESCE(json_agg(json_build_object('id', a.id, 'deviceIp', host(a.device_ip), 'kind', a.kind,
             'severity', a.severity, 'status', a.status, 'title', a.title, 'firstSeen', a.first_seen,
             'lastSeen', a.last_seen, 'occurrences', a.occurrences, 'assignee', a.assignee,
             'resolution', a.resolution, 'createdAt', a.created_at, 'updatedAt', a.updated_at)
             ORDER BY a.last_seen DESC), '[]'::json)
           FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved') AS alerts,
          (SELECT json_build_object('id', p.id, 'name', p.name, 'action', p.action, 'enabled', p.enabled,
             'internalOnly', p.internal_only, 'via', CASE WHEN pa.device_ip IS NULL THEN 'class' ELSE 'device' END)
           FROM policy_assignments pa JOIN policies p ON p.id = pa.policy_id
           WHERE pa.device_ip = d.ip OR pa.device_class = COALESCE(d.class_override, d.class)
           ORDER BY pa.device_ip IS NULL LIMIT 1) AS policy,
          (SELECT json_build_object('id', q.id, 'reason', q.reason, 'source', q.source, 'createdBy', q.created_by,
             'createdAt', q.created_at, 'expiresAt', q.expires_at)
           FROM quarantines q WHERE q.device_ip = d.ip AND q.released_at IS NULL) AS quarantine
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
    async (req) => {
      const { limit, cursor } = req.query;
      const sort = (req.query.sort ?? 'ip') as keyof typeof SORTS;
      const w = filterWhere(req.query);
      if (cursor !== undefined) cursorWhere(w, sort, cursor);
      const { rows } = await hotQuery<DeviceRow & { cursor_ts: string }>(
        db,
        `SELECT ${DEVICE_COLUMNS}${sort === '-lastSeen' ? ', d.last_seen::text AS cursor_ts' : ''}
         FROM devices d ${w.sql()} ORDER BY ${SORTS[sort].order} LIMIT ${w.param(limit + 1)}`,
        w.params,
      );
      const more = rows.length > limit;
      const page = rows.slice(0, limit);
      return {
        items: page.map(toDevice),
        nextCursor: more ? encodeCursor(SORTS[sort].key(page[page.length - 1]!)) : null,
      };
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
        const { rows } = await db.pool.query<DeviceRow>(
          `SELECT ${DEVICE_COLUMNS} FROM devices d ${w.sql()} ORDER BY d.ip LIMIT 5000`,
          w.params,
        );
        for (const r of rows) {
          const d = toDevice(r) as Record<string, unknown>;
          lines.push(CSV_COLUMNS.map((c) => csvField(d[c])).join(','));
        }
        if (rows.length < 5000) break;
        after = rows[rows.length - 1]!.ip;
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
    async (req) => {
      const ip = requireIp(req.params.ip);
      const row = await detail(ip);
      if (!row) throw notFound('DEVICE_NOT_FOUND', `no device ${ip}`);
      return {
        ...toDevice(row),
        classEvidence: row.class_evidence,
        alerts: row.alerts,
        policy: row.policy,
        quarantine: row.quarantine,
        profile: row.model_profile,
        baselines: row.model_baselines,
        model: row.model_state,
      };
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
        const before = await client.query<DeviceRow>(
          `SELECT ${DEVICE_COLUMNS} FROM devices d WHERE d.ip = $1::inet FOR UPDATE`,
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
        const after = await client.query<DeviceRow>(
          `SELECT ${DEVICE_COLUMNS} FROM devices d WHERE d.ip = $1::inet`,
          [ip],
        );
        const b = toDevice(before.rows[0]);
        const a = toDevice(after.rows[0]!);
        const pick = (d: ReturnType<typeof toDevice>) => ({
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
