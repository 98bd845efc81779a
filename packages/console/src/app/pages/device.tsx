// One device: identity, class and evidence, analyst fields, traffic chart, peers and services, a
// communication map, baseline against now, alerts, policy (learn, review, save, MUD), quarantine with a
// dry-run preview, release, and its audit trail.
import { useState } from 'preact/hooks';
import { api, can, type DeviceDetail, type DryRun, errorText, must, type Role } from '../api.ts';
import { TrafficChart } from '../chart.tsx';
import { Table } from '../table.tsx';
import { Card, ErrorLine, fmtBytes, fmtTime, Raw, Tag, useLoad } from '../util.tsx';
import { AUDIT } from './admin.tsx';
import { alertColumns } from './alerts.tsx';

/** A `device_profiles` entry as the detail route serves it. */
interface ProfileEntry {
  peer: string;
  servicePort: number;
  protocol: number;
  direction: 'outbound' | 'inbound';
  peerInternal: boolean;
  flows: number;
  bytesOut: number;
  bytesIn: number;
  firstSeen: string;
  lastSeen: string;
}
interface Baseline {
  metric: string;
  slot: number;
  n: number;
  mean: number;
  stddev: number;
}
interface EvidenceItem {
  rule: string;
  weight: number;
}
const PROTO: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };
const RANGES: Array<[number, string]> = [
  [60, '1 hour'],
  [360, '6 hours'],
  [1440, '24 hours'],
  [10080, '7 days'],
];

/** A matched classification rule as words: `{"uses":{"ports":[3613],"protocol":"tcp"}}` -> `uses: ports 3613, protocol tcp`. */
function ruleText(rule: string): string {
  try {
    const r = JSON.parse(rule) as Record<string, unknown>;
    return Object.entries(r)
      .map(([k, v]) =>
        v !== null && typeof v === 'object'
          ? `${k}: ${Object.entries(v as Record<string, unknown>)
              .map(([a, b]) => `${a} ${Array.isArray(b) ? b.join(', ') : String(b)}`)
              .join(', ')}`
          : `${k}: ${String(v)}`,
      )
      .join('; ');
  } catch {
    return rule;
  }
}

export function DevicePage(props: { ip: string; role: Role }) {
  const { ip, role } = props;
  const detail = useLoad(() => must(api.GET('/v1/devices/{ip}', { params: { path: { ip } } })), [ip]);
  const d = detail.data;
  return (
    <div class="page device">
      <h1>
        Device {ip} {d?.quarantined && <Tag value="quarantined" kind="warn" />}
        {d?.lifeCritical && <Tag value="life-critical" kind="warn" />}
      </h1>
      <ErrorLine error={detail.error} />
      {d && (
        <>
          <div class="grid">
            <Identity d={d} />
            <Classification d={d} role={role} onSaved={detail.reload} />
          </div>
          <TrafficCard ip={ip} />
          <Behaviour d={d} />
          <AlertsCard d={d} />
          <div class="grid">
            <PolicyCard d={d} role={role} />
            <QuarantineCard d={d} role={role} onChanged={detail.reload} />
          </div>
          {can(role, 'analyst') && <AuditCard ip={ip} version={d} />}
        </>
      )}
    </div>
  );
}

function Identity(props: { d: DeviceDetail }) {
  const d = props.d;
  const model = (d.model ?? null) as { learnedAt?: string } | null;
  return (
    <Card title="Identity">
      <dl class="facts">
        <dt>Address</dt>
        <dd>{d.ip}</dd>
        <dt>MAC</dt>
        <dd>{d.mac ?? '–'}</dd>
        <dt>VLAN</dt>
        <dd>{d.vlan ?? '–'}</dd>
        <dt>Exporter / interface</dt>
        <dd>
          {d.exporter ?? '–'} / {d.inputIf ?? '–'}
        </dd>
        <dt>First seen</dt>
        <dd>{fmtTime(d.firstSeen)}</dd>
        <dt>Last seen</dt>
        <dd>{fmtTime(d.lastSeen)}</dd>
        <dt>Sent / received</dt>
        <dd>
          {fmtBytes(d.bytesSent)} / {fmtBytes(d.bytesReceived)} ({d.flows} flows)
        </dd>
        <dt>Risk</dt>
        <dd>{d.risk}</dd>
        <dt>Behaviour learned</dt>
        <dd>{model?.learnedAt ? fmtTime(model.learnedAt) : 'still learning'}</dd>
      </dl>
    </Card>
  );
}

function Classification(props: { d: DeviceDetail; role: Role; onSaved: () => void }) {
  const d = props.d;
  const evidence = Array.isArray(d.classEvidence) ? (d.classEvidence as EvidenceItem[]) : [];
  const [form, setForm] = useState({
    label: d.label ?? '',
    owner: d.owner ?? '',
    department: d.department ?? '',
    criticality: d.criticality ?? '',
    classOverride: d.classOverride ?? '',
  });
  const [msg, setMsg] = useState<string>();
  const save = async (e: Event) => {
    e.preventDefault();
    const v = (s: string) => (s.trim() === '' ? null : s.trim());
    const { error } = await api.PATCH('/v1/devices/{ip}', {
      params: { path: { ip: d.ip } },
      body: {
        label: v(form.label),
        owner: v(form.owner),
        department: v(form.department),
        criticality: v(form.criticality) as 'low' | 'medium' | 'high' | 'critical' | null,
        classOverride: v(form.classOverride),
      },
    });
    setMsg(error ? errorText(error) : 'Saved.');
    if (!error) props.onSaved();
  };
  const field = (k: keyof typeof form, label: string) => (
    <label>
      {label}
      <input name={k} value={form[k]} onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })} />
    </label>
  );
  return (
    <Card title="Classification">
      <p class="class-line" data-testid="device-class">
        <b>{d.class}</b> ({Math.round(d.classConfidence * 100)}% confidence
        {d.classOverride ? `; inferred ${d.inferredClass}, set by an analyst` : ''})
      </p>
      <Table
        testid="class-evidence"
        columns={[
          { head: 'Evidence that matched', cell: (e) => ruleText(e.rule) },
          { head: 'Weight', n: true, cell: (e) => e.weight },
        ]}
        rows={evidence}
        rowKey={(e) => e.rule}
      />
      <p>
        Label: <span data-testid="device-label">{d.label ?? '–'}</span> · Owner: {d.owner ?? '–'} ·
        Department: {d.department ?? '–'} · Criticality: {d.criticality ?? '–'}
      </p>
      {can(props.role, 'analyst') && (
        <form class="inline-form" onSubmit={save} aria-label="Analyst fields">
          {field('label', 'Label')}
          {field('owner', 'Owner')}
          {field('department', 'Department')}
          <label>
            Criticality
            <select
              name="criticality"
              value={form.criticality}
              onChange={(e) => setForm({ ...form, criticality: e.currentTarget.value })}
            >
              <option value="">–</option>
              <option>low</option>
              <option>medium</option>
              <option>high</option>
              <option>critical</option>
            </select>
          </label>
          {field('classOverride', 'Class override')}
          <button type="submit">Save</button>
          {msg && <span class="note">{msg}</span>}
        </form>
      )}
    </Card>
  );
}

function TrafficCard(props: { ip: string }) {
  const [minutes, setMinutes] = useState(60);
  const t = useLoad(
    () =>
      must(api.GET('/v1/devices/{ip}/traffic', { params: { path: { ip: props.ip }, query: { minutes } } })),
    [props.ip, minutes],
  );
  return (
    <Card
      title="Traffic over time"
      actions={
        <label>
          Range{' '}
          <select name="range" value={minutes} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
            {RANGES.map(([m, l]) => (
              <option value={m}>{l}</option>
            ))}
          </select>
        </label>
      }
    >
      <ErrorLine error={t.error} />
      {t.data &&
        (t.data.items.length > 0 ? (
          <TrafficChart traffic={t.data} />
        ) : (
          <p>No traffic minutes recorded for this device yet.</p>
        ))}
      {t.data?.to && <p class="note">Flow time, up to {fmtTime(t.data.to)}.</p>}
    </Card>
  );
}

/** The device and its peers: servers and other devices inside, the internet outside, sized by bytes. */
function CommMap(props: { ip: string; peers: ProfileEntry[] }) {
  const byPeer = new Map<string, { bytes: number; internal: boolean }>();
  for (const p of props.peers) {
    const e = byPeer.get(p.peer) ?? { bytes: 0, internal: p.peerInternal };
    e.bytes += p.bytesOut + p.bytesIn;
    byPeer.set(p.peer, e);
  }
  const peers = [...byPeer.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 24);
  const max = Math.max(1, ...peers.map(([, e]) => e.bytes));
  const W = 560;
  const H = 320;
  const cx = W / 2;
  const cy = H / 2;
  return (
    <svg class="map" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Communication map of ${props.ip}`}>
      {peers.map(([peer, e], i) => {
        const a = (2 * Math.PI * i) / Math.max(1, peers.length);
        const x = cx + Math.cos(a) * 125;
        const y = cy + Math.sin(a) * 120;
        const r = 4 + 12 * Math.sqrt(e.bytes / max);
        return (
          <g key={peer} class={e.internal ? 'internal' : 'external'}>
            <line x1={cx} y1={cy} x2={x} y2={y} stroke-width={1 + 4 * (e.bytes / max)} />
            <circle cx={x} cy={y} r={r} />
            <text x={x} y={y + r + 11} text-anchor="middle">
              {peer.replace(/\/(32|128)$/, '')}
            </text>
          </g>
        );
      })}
      <circle class="self" cx={cx} cy={cy} r={16} />
      <text x={cx} y={cy + 30} text-anchor="middle" class="self-label">
        {props.ip}
      </text>
    </svg>
  );
}

function Behaviour(props: { d: DeviceDetail }) {
  const profile = (props.d.profile as ProfileEntry[])
    .slice()
    .sort((a, b) => b.bytesOut + b.bytesIn - (a.bytesOut + a.bytesIn));
  const baselines = (props.d.baselines as Baseline[]).filter((b) => b.slot === -1);
  const recent = useLoad(
    () =>
      must(
        api.GET('/v1/devices/{ip}/traffic', { params: { path: { ip: props.d.ip }, query: { minutes: 60 } } }),
      ),
    [props.d.ip],
  );
  // "Now": the device's latest baseline bucket's worth of minutes, the unit the baselines are kept in.
  const width = recent.data?.bucketMinutes ?? 5;
  const end = recent.data?.to ? Date.parse(recent.data.to) : 0;
  const now: Record<string, number> = {};
  const add = (k: string, v: number) => {
    now[k] = (now[k] ?? 0) + v;
  };
  for (const p of recent.data?.items ?? []) {
    if (Date.parse(p.minute) <= end - width * 60_000) continue;
    add('bytes_out', p.bytesOut);
    add('bytes_in', p.bytesIn);
    add('flows', p.flows);
    add('ext_bytes_out', p.extBytesOut);
    add('packets', p.packetsOut + p.packetsIn);
  }
  return (
    <>
      <Card title="Peers and services">
        <div class="grid">
          <Table
            testid="peers"
            columns={[
              { head: 'Peer', cell: (p) => p.peer.replace(/\/(32|128)$/, '') },
              {
                head: 'Where',
                cell: (p) => (p.peerInternal ? 'internal' : <Tag value="internet" kind="warn" />),
              },
              { head: 'Service', cell: (p) => `${PROTO[p.protocol] ?? p.protocol}/${p.servicePort}` },
              {
                head: 'Direction',
                cell: (p) => (p.direction === 'outbound' ? 'device → peer' : 'peer → device'),
              },
              { head: 'Flows', n: true, cell: (p) => p.flows },
              {
                head: 'Bytes out / in',
                n: true,
                cell: (p) => `${fmtBytes(p.bytesOut)} / ${fmtBytes(p.bytesIn)}`,
              },
              { head: 'First seen', cell: (p) => fmtTime(p.firstSeen) },
            ]}
            rows={profile.slice(0, 100)}
            rowKey={(p) => `${p.peer}/${p.servicePort}/${p.protocol}/${p.direction}`}
            rowAttrs={(p) => ({ 'data-peer': p.peer })}
          />
          <CommMap ip={props.d.ip} peers={profile} />
        </div>
        {profile.length === 0 && <p>No peers profiled yet.</p>}
      </Card>
      <Card title="Baseline against now">
        <Table
          testid="baselines"
          columns={[
            { head: 'Metric', cell: (b) => b.metric },
            {
              head: 'Baseline per bucket (mean ± sd)',
              n: true,
              cell: (b) => `${b.mean.toFixed(0)} ± ${b.stddev.toFixed(0)}`,
            },
            { head: `Latest bucket (${width} min)`, n: true, cell: (b) => now[b.metric] ?? '–' },
            { head: 'Buckets learned', n: true, cell: (b) => b.n },
          ]}
          rows={baselines}
          rowKey={(b) => b.metric}
        />
      </Card>
    </>
  );
}

function AlertsCard(props: { d: DeviceDetail }) {
  return (
    <Card
      title="Open alerts"
      actions={
        <a href={`#/alerts?deviceIp=${encodeURIComponent(props.d.ip)}&status=`}>All alerts of this device</a>
      }
    >
      <Table
        testid="device-alerts"
        head={false}
        columns={[
          alertColumns.severity,
          alertColumns.title,
          alertColumns.kind,
          alertColumns.status,
          alertColumns.lastSeen,
        ]}
        rows={props.d.alerts}
        rowKey={(a) => a.id}
      />
      {props.d.alerts.length === 0 && <p>No open alerts.</p>}
    </Card>
  );
}

function PolicyCard(props: { d: DeviceDetail; role: Role }) {
  const ip = props.d.ip;
  const policy = props.d.policy as {
    id: number;
    name: string;
    action: string;
    enabled: boolean;
    via?: string;
  } | null;
  const [draft, setDraft] = useState<unknown>();
  const [msg, setMsg] = useState<string>();
  const learn = async (save: boolean) => {
    const { data, error } = await api.POST('/v1/devices/{ip}/policy/learn', {
      params: { path: { ip } },
      body: { save },
    });
    if (error) return setMsg(errorText(error));
    setDraft(data);
    setMsg(
      save
        ? 'Saved as a disabled draft and assigned to this device: review and enable it under Policies.'
        : undefined,
    );
  };
  return (
    <Card title="Policy">
      {policy ? (
        <p data-testid="policy">
          In force: <b>{policy.name}</b> (action {policy.action}
          {policy.via ? `, via ${policy.via}` : ''})
        </p>
      ) : (
        <p data-testid="policy">No policy in force.</p>
      )}
      <p>
        <a href={`/v1/devices/${encodeURIComponent(ip)}/mud`} download={`mud-${ip}.json`}>
          Download MUD file
        </a>
      </p>
      {can(props.role, 'analyst') && (
        <div class="actions">
          <button type="button" onClick={() => learn(false)}>
            Learn from traffic
          </button>
          {draft !== undefined && (
            <button type="button" onClick={() => learn(true)}>
              Save draft
            </button>
          )}
        </div>
      )}
      {msg && <p class="note">{msg}</p>}
      {draft !== undefined && <Raw value={draft} />}
    </Card>
  );
}

/** Whether the device is life-critical (its class's flag, or the per-device override) and, for an
 * analyst, the override: a life-critical device is never quarantined automatically. */
function LifeCritical(props: { d: DeviceDetail; role: Role; onChanged: () => void }) {
  const { d } = props;
  const [error, setError] = useState<string>();
  const set = async (v: string) => {
    const lifeCritical = v === 'class' ? null : v === 'yes';
    const { error } = await api.PUT('/v1/devices/{ip}/life-critical', {
      params: { path: { ip: d.ip } },
      body: { lifeCritical },
    });
    setError(error ? errorText(error) : undefined);
    if (!error) props.onChanged();
  };
  const from =
    d.lifeCriticalOverride === null ? `from its class (${d.class ?? 'unclassified'})` : 'set for this device';
  return (
    <>
      <p data-testid="life-critical" data-value={String(d.lifeCritical)}>
        {d.lifeCritical
          ? `Life-critical (${from}): never quarantined automatically; its policy asks a person instead.`
          : `Not life-critical (${from}).`}
      </p>
      {can(props.role, 'analyst') && (
        <label>
          Life-critical
          <select
            name="lifeCritical"
            value={d.lifeCriticalOverride === null ? 'class' : d.lifeCriticalOverride ? 'yes' : 'no'}
            onChange={(e) => set(e.currentTarget.value)}
          >
            <option value="class">as its class says</option>
            <option value="yes">yes, always ask a person</option>
            <option value="no">no</option>
          </select>
        </label>
      )}
      <ErrorLine error={error} />
    </>
  );
}

function QuarantineCard(props: { d: DeviceDetail; role: Role; onChanged: () => void }) {
  const d = props.d;
  const q = d.quarantine as {
    reason: string;
    createdBy: string;
    createdAt: string;
    expiresAt: string | null;
  } | null;
  const [reason, setReason] = useState('');
  const [minutes, setMinutes] = useState('');
  const [preview, setPreview] = useState<DryRun>();
  const [msg, setMsg] = useState<string>();
  const body = () => ({
    reason: reason.trim(),
    ...(minutes ? { durationMinutes: Number(minutes) } : {}),
  });
  const dryRun = async () => {
    const { data, error } = await api.POST('/v1/devices/{ip}/quarantine', {
      params: { path: { ip: d.ip } },
      body: { ...body(), reason: body().reason || 'preview', dryRun: true },
    });
    if (error) return setMsg(errorText(error));
    setPreview(data as DryRun);
    setMsg(undefined);
  };
  const quarantine = async () => {
    const { error } = await api.POST('/v1/devices/{ip}/quarantine', {
      params: { path: { ip: d.ip } },
      body: body(),
    });
    setMsg(error ? errorText(error) : 'Quarantined.');
    if (!error) {
      setPreview(undefined);
      setReason('');
      props.onChanged();
    }
  };
  const release = async () => {
    const { error } = await api.POST('/v1/devices/{ip}/release', {
      params: { path: { ip: d.ip } },
      body: { reason: reason.trim() },
    });
    setMsg(error ? errorText(error) : 'Released.');
    if (!error) {
      setReason('');
      props.onChanged();
    }
  };
  const expiry = minutes ? new Date(Date.now() + Number(minutes) * 60_000).toISOString() : null;
  return (
    <Card title="Quarantine" id="quarantine">
      {q ? (
        <p data-testid="quarantine-state">
          Quarantined since {fmtTime(q.createdAt)} by {q.createdBy}: {q.reason}
          {q.expiresAt ? ` (until ${fmtTime(q.expiresAt)})` : ' (no expiry)'}
        </p>
      ) : (
        <p data-testid="quarantine-state">Not quarantined.</p>
      )}
      <LifeCritical d={d} role={props.role} onChanged={props.onChanged} />
      {can(props.role, 'analyst') && (
        <form class="inline-form" onSubmit={(e) => e.preventDefault()} aria-label="Quarantine">
          <label>
            Reason
            <input name="reason" required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          {!q && (
            <label>
              Expires after (minutes)
              <input
                name="minutes"
                type="number"
                min={1}
                value={minutes}
                onInput={(e) => setMinutes(e.currentTarget.value)}
              />
            </label>
          )}
          {!q && (
            <button type="button" onClick={dryRun}>
              Preview (dry run)
            </button>
          )}
          {!q && (
            <button type="button" class="danger" disabled={!reason.trim()} onClick={quarantine}>
              Quarantine
            </button>
          )}
          {q && (
            <button type="button" disabled={!reason.trim()} onClick={release}>
              Release
            </button>
          )}
        </form>
      )}
      {msg && <p class="note">{msg}</p>}
      {preview && (
        <div class="preview" data-testid="dry-run">
          <p>
            Dry run over the last {preview.hours} hours ({preview.source}): {preview.wouldBlock.length} peer
            entries would be blocked, {preview.wouldAllow} allowed, {preview.flowsConsidered} flows considered
            {preview.policy
              ? ` against policy ${preview.policy.name}`
              : ' (no policy: everything would be blocked)'}
            .
          </p>
          {preview.limitation && <p class="note">{preview.limitation}</p>}
          <p>
            The firewall feed <code>/v1/feeds/quarantined.txt</code> would list <code>{d.ip}</code>, and
            webhooks subscribed to <code>device.quarantined</code> would receive:
          </p>
          <Raw
            value={{
              type: 'device.quarantined',
              deviceIp: d.ip,
              quarantine: { reason: reason.trim() || '(your reason)', source: 'manual', expiresAt: expiry },
            }}
          />
          <details>
            <summary>Entries that would be blocked</summary>
            <Raw value={preview.wouldBlock} />
          </details>
        </div>
      )}
    </Card>
  );
}

function AuditCard(props: { ip: string; version: unknown }) {
  const audit = useLoad(
    () => must(api.GET('/v1/devices/{ip}/audit', { params: { path: { ip: props.ip } } })),
    [props.ip, props.version],
  );
  return (
    <Card title="Audit trail">
      <ErrorLine error={audit.error} />
      <Table
        testid="device-audit"
        columns={[AUDIT.when, AUDIT.who, AUDIT.action, AUDIT.change]}
        rows={audit.data?.items}
        rowKey={(r) => r.id}
        rowAttrs={(r) => ({ 'data-action': r.action })}
      />
    </Card>
  );
}
