// Alerts: a filtered queue with bulk acknowledge / assign / resolve, and one alert with its evidence shown
// readably (peers, ports, figures against baseline), comments and triage actions.
import { useState } from 'preact/hooks';
import { type Alert, type AlertDetail, api, can, errorText, must, type Role } from '../api.ts';
import { type Column, Pager, Table, usePages } from '../table.tsx';
import {
  Card,
  ErrorLine,
  FilterInput,
  FilterSelect,
  fmtBytes,
  fmtTime,
  go,
  Raw,
  Tag,
  useLoad,
} from '../util.tsx';

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
const STATUSES = ['open', 'acknowledged', 'resolved'] as const;
type Severity = (typeof SEVERITIES)[number];
type Status = (typeof STATUSES)[number];
/** The filters typed in, in the form's order. */
const TEXT_FILTERS = [
  ['kind', 'Kind'],
  ['deviceIp', 'Device'],
  ['assignee', 'Assignee'],
] as const;

/** The columns alert lists share (the queue, the overview, a device's open alerts). */
export const alertColumns = {
  lastSeen: { head: 'Last seen', cell: (a: Alert) => fmtTime(a.lastSeen) },
  severity: { head: 'Severity', cell: (a: Alert) => <Tag value={a.severity} /> },
  status: { head: 'Status', cell: (a: Alert) => <Tag value={a.status} /> },
  title: { head: 'Alert', cell: (a: Alert) => <a href={`#/alerts/${a.id}`}>{a.title}</a> },
  kind: { head: 'Kind', cell: (a: Alert) => a.kind },
  device: {
    head: 'Device',
    cell: (a: Alert) => <a href={`#/devices/${encodeURIComponent(a.deviceIp)}`}>{a.deviceIp}</a>,
  },
} satisfies Record<string, Column<Alert>>;

export function AlertsPage(props: { role: Role; query: URLSearchParams }) {
  const qp = props.query;
  const query = {
    status: (qp.has('status') ? qp.get('status') || undefined : 'open') as Status | undefined,
    severity: (qp.get('severity') || undefined) as Severity | undefined,
    kind: qp.get('kind') || undefined,
    deviceIp: qp.get('deviceIp') || undefined,
    assignee: qp.get('assignee') || undefined,
    since: qp.get('since')
      ? new Date(Date.now() - Number(qp.get('since')) * 3600_000).toISOString()
      : undefined,
  };
  const key = qp.toString();
  const pages = usePages(key);
  const cursor = pages.cursor;
  const list = useLoad(
    () => must(api.GET('/v1/alerts', { params: { query: { ...query, limit: 100, cursor } } })),
    [key, cursor],
    10000,
  );
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [text, setText] = useState('');
  const [msg, setMsg] = useState<string>();
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(qp);
    next.set(k, v);
    if (!v && k !== 'status') next.delete(k);
    go(`/alerts?${next.toString()}`);
  };
  const bulk = async (action: 'acknowledge' | 'resolve' | 'assign') => {
    const ids = [...selected];
    const body =
      action === 'resolve'
        ? { ids, action, reason: text.trim() }
        : action === 'assign'
          ? { ids, action, assignee: text.trim() || null }
          : { ids, action, ...(text.trim() ? { comment: text.trim() } : {}) };
    const { data, error } = await api.POST('/v1/alerts/bulk', { body });
    if (error) return setMsg(errorText(error));
    const failed = data.results.filter((r) => !r.ok);
    setMsg(
      `${action}: ${ids.length - failed.length} done${failed.length ? `, ${failed.length} refused (${failed.map((f) => `${f.id} ${f.code}`).join(', ')})` : ''}.`,
    );
    setSelected(new Set());
    list.reload();
  };
  const items = list.data?.items ?? [];
  const toggle = (id: number) => {
    const s = new Set(selected);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setSelected(s);
  };
  return (
    <div class="page alerts">
      <h1>Alerts</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Alert filters">
        <FilterSelect
          name="status"
          label="Status"
          value={query.status ?? ''}
          options={[['', 'any'], ...STATUSES.map((x) => [x, x] as const)]}
          onChange={(v) => set('status', v)}
        />
        <FilterSelect
          name="severity"
          label="Severity"
          value={query.severity ?? ''}
          options={[['', 'any'], ...SEVERITIES.map((x) => [x, x] as const)]}
          onChange={(v) => set('severity', v)}
        />
        {TEXT_FILTERS.map(([name, label]) => (
          <FilterInput
            key={name}
            name={name}
            label={label}
            value={query[name] ?? ''}
            onChange={(v) => set(name, v)}
          />
        ))}
        <FilterSelect
          name="since"
          label="Seen in the last"
          value={qp.get('since') ?? ''}
          options={[
            ['', 'any time'],
            ['1', 'hour'],
            ['24', '24 hours'],
            ['168', '7 days'],
          ]}
          onChange={(v) => set('since', v)}
        />
      </form>
      <ErrorLine error={list.error} />
      {can(props.role, 'analyst') && (
        <form class="inline-form bulk" onSubmit={(e) => e.preventDefault()} aria-label="Bulk actions">
          <span>{selected.size} selected</span>
          <label>
            Comment, reason or assignee
            <input name="bulkText" value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <button type="button" disabled={selected.size === 0} onClick={() => bulk('acknowledge')}>
            Acknowledge
          </button>
          <button type="button" disabled={selected.size === 0} onClick={() => bulk('assign')}>
            Assign
          </button>
          <button
            type="button"
            disabled={selected.size === 0 || !text.trim()}
            onClick={() => bulk('resolve')}
          >
            Resolve
          </button>
          {msg && <span class="note">{msg}</span>}
        </form>
      )}
      <Card title="Queue">
        <Table
          testid="alerts"
          columns={[
            can(props.role, 'analyst') && {
              head: (
                <input
                  type="checkbox"
                  aria-label="Select all"
                  checked={items.length > 0 && selected.size === items.length}
                  onChange={(e) =>
                    setSelected(e.currentTarget.checked ? new Set(items.map((a) => a.id)) : new Set())
                  }
                />
              ),
              cell: (a) => (
                <input
                  type="checkbox"
                  aria-label={`Select alert ${a.id}`}
                  checked={selected.has(a.id)}
                  onChange={() => toggle(a.id)}
                />
              ),
            },
            alertColumns.lastSeen,
            alertColumns.severity,
            alertColumns.status,
            alertColumns.title,
            alertColumns.kind,
            alertColumns.device,
            { head: 'Assignee', cell: (a) => a.assignee ?? '–' },
          ]}
          rows={items}
          rowKey={(a) => a.id}
          rowAttrs={(a) => ({ 'data-id': a.id })}
        />
        <Pager pages={pages} next={list.data?.nextCursor} />
      </Card>
    </div>
  );
}

const isBytesKey = (k: string) => /bytes|limit/i.test(k);
const words = (k: string) => k.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();

/** One evidence value as text: lists joined, [port, count] pairs as "port (count)", bytes as figures. */
function value(k: string, v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return isBytesKey(k) ? fmtBytes(v) : String(v);
  if (typeof v === 'string') return /^\d{4}-\d\d-\d\dT/.test(v) ? fmtTime(v) : v;
  if (Array.isArray(v))
    return v.map((x) => (Array.isArray(x) ? `${x[0]} (${x.slice(1).join(', ')})` : value(k, x))).join(', ');
  return JSON.stringify(v);
}

/** Evidence as a readable list; lists of objects (peers) as a table. */
export function Evidence(props: { evidence: unknown }) {
  const e = props.evidence;
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return <Raw value={e} />;
  const entries = Object.entries(e as Record<string, unknown>);
  return (
    <div class="evidence" data-testid="evidence">
      <dl class="facts">
        {entries
          .filter(
            ([, v]) =>
              !(Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && !Array.isArray(v[0])),
          )
          .map(([k, v]) => (
            <>
              <dt>{words(k)}</dt>
              <dd>{value(k, v)}</dd>
            </>
          ))}
      </dl>
      {entries
        .filter(
          ([, v]) => Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && !Array.isArray(v[0]),
        )
        .map(([k, v]) => {
          const rows = v as Array<Record<string, unknown>>;
          const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
          return (
            <Table
              key={k}
              caption={words(k)}
              columns={cols.map((c) => ({
                head: words(c),
                cell: (r: Record<string, unknown>) => value(c, r[c]),
              }))}
              rows={rows}
            />
          );
        })}
      <details>
        <summary>Raw evidence</summary>
        <Raw value={e} />
      </details>
    </div>
  );
}

export function AlertPage(props: { id: number; role: Role }) {
  const alert = useLoad(
    () => must(api.GET('/v1/alerts/{id}', { params: { path: { id: props.id } } })),
    [props.id],
  );
  const a = alert.data;
  return (
    <div class="page alert">
      <p>
        <a href="#/alerts">← Alerts</a>
      </p>
      <ErrorLine error={alert.error} />
      {a && <AlertBody a={a} role={props.role} reload={alert.reload} />}
    </div>
  );
}

function AlertBody(props: { a: AlertDetail; role: Role; reload: () => void }) {
  const { a } = props;
  const [text, setText] = useState('');
  const [assignee, setAssignee] = useState(a.assignee ?? '');
  const [msg, setMsg] = useState<string>();
  const done = (error: unknown) => {
    setMsg(error ? errorText(error) : undefined);
    if (!error) {
      setText('');
      props.reload();
    }
  };
  const path = { params: { path: { id: a.id } } };
  const ack = async () =>
    done(
      (
        await api.POST('/v1/alerts/{id}/acknowledge', {
          ...path,
          body: text.trim() ? { comment: text.trim() } : {},
        })
      ).error,
    );
  const resolve = async () =>
    done((await api.POST('/v1/alerts/{id}/resolve', { ...path, body: { reason: text.trim() } })).error);
  const comment = async () =>
    done((await api.POST('/v1/alerts/{id}/comments', { ...path, body: { body: text.trim() } })).error);
  const assign = async () =>
    done(
      (await api.POST('/v1/alerts/{id}/assign', { ...path, body: { assignee: assignee.trim() || null } }))
        .error,
    );
  return (
    <>
      <h1>
        <Tag value={a.severity} /> {a.title}
      </h1>
      <div class="grid">
        <Card title="Alert">
          <dl class="facts">
            <dt>Status</dt>
            <dd data-testid="alert-status">
              <Tag value={a.status} />
            </dd>
            <dt>Kind</dt>
            <dd>{a.kind}</dd>
            <dt>Device</dt>
            <dd>
              <a href={`#/devices/${encodeURIComponent(a.deviceIp)}`}>{a.deviceIp}</a>
            </dd>
            <dt>First / last seen</dt>
            <dd>
              {fmtTime(a.firstSeen)} / {fmtTime(a.lastSeen)} ({a.occurrences}×)
            </dd>
            <dt>Assignee</dt>
            <dd>{a.assignee ?? '–'}</dd>
            <dt>Resolution</dt>
            <dd>{a.resolution ?? '–'}</dd>
          </dl>
        </Card>
        <Card title="Evidence">
          <Evidence evidence={a.evidence} />
        </Card>
      </div>
      <Card title="Comments">
        <ol class="comments" data-testid="comments">
          {a.comments.map((c) => (
            <li key={c.id}>
              <span class="meta">
                {c.author}, {fmtTime(c.createdAt)}
              </span>
              <p>{c.body}</p>
            </li>
          ))}
        </ol>
        {can(props.role, 'analyst') && (
          <form class="inline-form" onSubmit={(e) => e.preventDefault()} aria-label="Triage">
            <label class="wide">
              Comment or resolution reason
              <textarea name="text" value={text} onInput={(e) => setText(e.currentTarget.value)} />
            </label>
            <button type="button" disabled={!text.trim()} onClick={comment}>
              Comment
            </button>
            {a.status === 'open' && (
              <button type="button" onClick={ack}>
                Acknowledge
              </button>
            )}
            {a.status !== 'resolved' && (
              <button type="button" disabled={!text.trim()} onClick={resolve}>
                Resolve
              </button>
            )}
            {a.status !== 'resolved' && (
              <>
                <label>
                  Assignee
                  <input
                    name="assignee"
                    value={assignee}
                    onInput={(e) => setAssignee(e.currentTarget.value)}
                  />
                </label>
                <button type="button" onClick={assign}>
                  Assign
                </button>
              </>
            )}
          </form>
        )}
        {msg && (
          <p class="error" role="alert">
            {msg}
          </p>
        )}
      </Card>
    </>
  );
}
