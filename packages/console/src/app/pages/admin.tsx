// Administration: API keys (a new key shown once; revoke), webhooks (create, delivery log, retry) and the
// audit log with filters.
import { useState } from 'preact/hooks';
import { type AuditRecord, api, errorText, must, type Webhook } from '../api.ts';
import { type Column, Table } from '../table.tsx';
import { Card, ErrorLine, fmtTime, Raw, Tag, useLoad } from '../util.tsx';

export function AdminPage() {
  return (
    <div class="page admin">
      <h1>Administration</h1>
      <Keys />
      <Webhooks />
      <Audit />
    </div>
  );
}

function Keys() {
  const keys = useLoad(() => must(api.GET('/v1/apikeys')), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState<'feeds' | 'viewer' | 'analyst' | 'admin'>('viewer');
  const [created, setCreated] = useState<string>();
  const [msg, setMsg] = useState<string>();
  const create = async (e: Event) => {
    e.preventDefault();
    const { data, error } = await api.POST('/v1/apikeys', { body: { name: name.trim(), role } });
    if (error) return setMsg(errorText(error));
    setCreated(data.key);
    setName('');
    setMsg(undefined);
    keys.reload();
  };
  const revoke = async (id: string) => {
    const { error } = await api.DELETE('/v1/apikeys/{id}', { params: { path: { id } } });
    setMsg(error ? errorText(error) : undefined);
    keys.reload();
  };
  return (
    <Card title="API keys">
      <ErrorLine error={keys.error ?? msg} />
      <form class="inline-form" onSubmit={create} aria-label="New API key">
        <label>
          Name
          <input name="keyName" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as typeof role)}>
            <option value="feeds">feeds (a firewall's EDL feeds only)</option>
            <option>viewer</option>
            <option>analyst</option>
            <option>admin</option>
          </select>
        </label>
        <button type="submit">Create key</button>
      </form>
      {created && (
        <p class="once" data-testid="new-key">
          New key, shown once: <code>{created}</code>
        </p>
      )}
      <Table
        testid="apikeys"
        columns={[
          { head: 'Name', cell: (k) => k.name },
          { head: 'Role', cell: (k) => k.role },
          { head: 'Prefix', cell: (k) => <code>{k.prefix}…</code> },
          { head: 'Created', cell: (k) => fmtTime(k.createdAt) },
          { head: 'Last used', cell: (k) => fmtTime(k.lastUsedAt) },
          { head: 'State', cell: (k) => (k.revokedAt ? <Tag value="revoked" /> : <Tag value="live" />) },
          {
            head: null,
            cell: (k) =>
              !k.revokedAt && (
                <button type="button" class="danger" onClick={() => revoke(k.id)}>
                  Revoke
                </button>
              ),
          },
        ]}
        rows={keys.data?.items}
        rowKey={(k) => k.id}
      />
    </Card>
  );
}

const EVENTS = [
  'alert.opened',
  'alert.updated',
  'policy.violated',
  'device.new',
  'device.quarantined',
  'device.released',
];

function Webhooks() {
  const hooks = useLoad(() => must(api.GET('/v1/webhooks')), []);
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [events, setEvents] = useState<string[]>(['alert.opened']);
  const [msg, setMsg] = useState<string>();
  const create = async (e: Event) => {
    e.preventDefault();
    const { error } = await api.POST('/v1/webhooks', {
      body: { url: url.trim(), secret, events: events as never },
    });
    setMsg(error ? errorText(error) : undefined);
    if (!error) {
      setUrl('');
      setSecret('');
      hooks.reload();
    }
  };
  return (
    <Card title="Webhooks">
      <ErrorLine error={hooks.error ?? msg} />
      <form class="inline-form" onSubmit={create} aria-label="New webhook">
        <label>
          URL
          <input name="url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </label>
        <label>
          Secret (16+ characters)
          <input
            name="secret"
            type="password"
            minLength={16}
            required
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </label>
        <fieldset>
          <legend>Events</legend>
          {EVENTS.map((ev) => (
            <label class="check">
              <input
                type="checkbox"
                checked={events.includes(ev)}
                onChange={(e) =>
                  setEvents(e.currentTarget.checked ? [...events, ev] : events.filter((x) => x !== ev))
                }
              />
              {ev}
            </label>
          ))}
        </fieldset>
        <button type="submit">Subscribe</button>
      </form>
      {hooks.data?.items.map((h) => (
        <WebhookRow key={h.id} h={h} />
      ))}
    </Card>
  );
}

function WebhookRow(props: { h: Webhook }) {
  const { h } = props;
  const [open, setOpen] = useState(false);
  const deliveries = useLoad(
    () =>
      open
        ? must(
            api.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id: h.id }, query: { limit: 50 } } }),
          )
        : Promise.resolve(undefined),
    [open],
  );
  const [note, setNote] = useState<string>();
  const sendTest = async () => {
    const { data, error } = await api.POST('/v1/webhooks/{id}/test', { params: { path: { id: h.id } } });
    setNote(error ? errorText(error) : `Test event queued (delivery ${data.deliveryId}).`);
    if (open) deliveries.reload();
    else setOpen(true);
  };
  const retry = async (deliveryId: number) => {
    await api.POST('/v1/webhooks/{id}/deliveries/{deliveryId}/retry', {
      params: { path: { id: h.id, deliveryId } },
    });
    deliveries.reload();
  };
  return (
    <div class="webhook">
      <p>
        <b>{h.url}</b> {h.enabled ? <Tag value="enabled" /> : <Tag value="disabled" />} {h.events.join(', ')}{' '}
        <button type="button" class="link" onClick={() => setOpen(!open)}>
          {open ? 'Hide deliveries' : 'Delivery log'}
        </button>{' '}
        <button type="button" onClick={sendTest}>
          Send a test
        </button>
        {note && <span class="note"> {note}</span>}
      </p>
      {open && (
        <Table
          columns={[
            { head: 'Event', cell: (d) => d.eventType },
            { head: 'Status', cell: (d) => <Tag value={d.status} /> },
            { head: 'Attempts', n: true, cell: (d) => d.attempts },
            { head: 'Last attempt', cell: (d) => fmtTime(d.lastAttemptAt) },
            {
              head: 'Last error',
              cell: (d) => d.lastError ?? (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : '–'),
            },
            {
              head: null,
              cell: (d) =>
                d.status !== 'delivered' && (
                  <button type="button" onClick={() => retry(d.id)}>
                    Retry
                  </button>
                ),
            },
          ]}
          rows={deliveries.data?.items}
          rowKey={(d) => d.id}
        />
      )}
    </div>
  );
}

/** The columns of audit log lists (here and a device's audit trail). */
export const AUDIT = {
  when: { head: 'When', cell: (r: AuditRecord) => fmtTime(r.at) },
  who: { head: 'Who', cell: (r: AuditRecord) => `${r.actorName} (${r.actorRole})` },
  action: { head: 'Action', cell: (r: AuditRecord) => r.action },
  target: { head: 'Target', cell: (r: AuditRecord) => `${r.targetType} ${r.targetId}` },
  change: {
    head: 'Change',
    cell: (r: AuditRecord) => (
      <details>
        <summary>before / after</summary>
        <Raw value={{ before: r.before, after: r.after }} />
      </details>
    ),
  },
} satisfies Record<string, Column<AuditRecord>>;

function Audit() {
  const [filters, setFilters] = useState({ targetType: '', targetId: '', action: '' });
  const [applied, setApplied] = useState(filters);
  const audit = useLoad(() => {
    const query: Record<string, string | number> = { limit: 100 };
    for (const [k, v] of Object.entries(applied)) if (v.trim()) query[k] = v.trim();
    return must(api.GET('/v1/audit', { params: { query: query as never } }));
  }, [applied]);
  return (
    <Card title="Audit log">
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
        aria-label="Audit filters"
      >
        {(['targetType', 'targetId', 'action'] as const).map((k) => (
          <label>
            {k === 'targetType' ? 'Target type' : k === 'targetId' ? 'Target' : 'Action'}
            <input
              name={k}
              value={filters[k]}
              onInput={(e) => setFilters({ ...filters, [k]: e.currentTarget.value })}
            />
          </label>
        ))}
        <button type="submit">Filter</button>
      </form>
      <ErrorLine error={audit.error} />
      <Table
        testid="audit"
        columns={[AUDIT.when, AUDIT.who, AUDIT.action, AUDIT.target, AUDIT.change]}
        rows={audit.data?.items}
        rowKey={(r) => r.id}
        rowAttrs={(r) => ({ 'data-action': r.action, 'data-target': r.targetId })}
      />
    </Card>
  );
}
