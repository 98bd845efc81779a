// Administration: API keys (a new key shown once; revoke), webhooks (create, delivery log, retry) and the
// audit log with filters.
import { useState } from 'preact/hooks';
import { api, errorText, must, type Webhook } from '../api.ts';
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
      <table class="list" data-testid="apikeys">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Prefix</th>
            <th>Created</th>
            <th>Last used</th>
            <th>State</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.data?.items.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>{k.role}</td>
              <td>
                <code>{k.prefix}…</code>
              </td>
              <td>{fmtTime(k.createdAt)}</td>
              <td>{fmtTime(k.lastUsedAt)}</td>
              <td>{k.revokedAt ? <Tag value="revoked" /> : <Tag value="live" />}</td>
              <td>
                {!k.revokedAt && (
                  <button type="button" class="danger" onClick={() => revoke(k.id)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
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
        <table class="list">
          <thead>
            <tr>
              <th>Event</th>
              <th>Status</th>
              <th class="n">Attempts</th>
              <th>Last attempt</th>
              <th>Last error</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {deliveries.data?.items.map((d) => (
              <tr key={d.id}>
                <td>{d.eventType}</td>
                <td>
                  <Tag value={d.status} />
                </td>
                <td class="n">{d.attempts}</td>
                <td>{fmtTime(d.lastAttemptAt)}</td>
                <td>{d.lastError ?? (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : '–')}</td>
                <td>
                  {d.status !== 'delivered' && (
                    <button type="button" onClick={() => retry(d.id)}>
                      Retry
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

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
      <table class="list" data-testid="audit">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>Action</th>
            <th>Target</th>
            <th>Change</th>
          </tr>
        </thead>
        <tbody>
          {audit.data?.items.map((r) => (
            <tr key={r.id} data-action={r.action} data-target={r.targetId}>
              <td>{fmtTime(r.at)}</td>
              <td>
                {r.actorName} ({r.actorRole})
              </td>
              <td>{r.action}</td>
              <td>
                {r.targetType} {r.targetId}
              </td>
              <td>
                <details>
                  <summary>before / after</summary>
                  <Raw value={{ before: r.before, after: r.after }} />
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}
