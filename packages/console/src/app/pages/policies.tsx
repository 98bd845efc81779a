// Policies and server groups: list, edit rules (JSON), enable, assign to a device or class.
import { useState } from 'preact/hooks';
import { api, can, errorText, must, type Policy, type paths, type Role } from '../api.ts';
import { Table } from '../table.tsx';
import { Card, ErrorLine, Raw, Tag, useLoad } from '../util.tsx';

type DryRun = paths['/v1/policies/{id}/violations']['get']['responses'][200]['content']['application/json'];
const PROTO: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6', 132: 'sctp' };

export function PoliciesPage(props: { role: Role }) {
  const list = useLoad(() => must(api.GET('/v1/policies')), []);
  const groups = useLoad(() => must(api.GET('/v1/server-groups')), []);
  return (
    <div class="page policies">
      <h1>Policies</h1>
      <ErrorLine error={list.error} />
      {list.data?.items.map((p) => (
        <PolicyRow key={p.id} p={p} role={props.role} onChanged={list.reload} />
      ))}
      {list.data?.items.length === 0 && <p>No policies yet: learn one from a device's page.</p>}
      <Card title="Server groups">
        <ErrorLine error={groups.error} />
        <table class="list">
          <tbody>
            {groups.data?.items.map((g) => (
              <tr key={g.name}>
                <th scope="row">{g.name}</th>
                <td>{g.cidrs.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}

function PolicyRow(props: { p: Policy; role: Role; onChanged: () => void }) {
  const { p } = props;
  const [rules, setRules] = useState(JSON.stringify(p.rules, null, 2));
  const [target, setTarget] = useState('');
  const [msg, setMsg] = useState<string>();
  const [dry, setDry] = useState<DryRun>();
  const dryRun = async () => {
    const { data, error } = await api.GET('/v1/policies/{id}/violations', {
      params: { path: { id: p.id }, query: { hours: 24 } },
    });
    if (error) return setMsg(errorText(error));
    setDry(data);
  };
  const patch = async (body: Record<string, unknown>) => {
    const { error } = await api.PATCH('/v1/policies/{id}', {
      params: { path: { id: p.id } },
      body: body as never,
    });
    setMsg(error ? errorText(error) : 'Saved.');
    if (!error) props.onChanged();
  };
  const saveRules = () => {
    try {
      void patch({ rules: JSON.parse(rules) });
    } catch (e) {
      setMsg(`The rules are not JSON: ${(e as Error).message}`);
    }
  };
  const assign = async () => {
    const t = target.trim();
    const body = /^[0-9a-f.:]+$/i.test(t) && t.includes('.') ? { deviceIp: t } : { deviceClass: t };
    const { error } = await api.POST('/v1/policies/{id}/assignments', {
      params: { path: { id: p.id } },
      body,
    });
    setMsg(error ? errorText(error) : `Assigned to ${t}.`);
    if (!error) props.onChanged();
  };
  const analyst = can(props.role, 'analyst');
  return (
    <Card title={`${p.name}`} actions={<Tag value={p.enabled ? 'enabled' : 'disabled'} />}>
      <p>
        {p.description} Action: {p.action}. {p.internalOnly ? 'Internal peers only.' : ''}
      </p>
      <p>
        Assigned to:{' '}
        {p.assignments.length === 0
          ? 'nothing'
          : p.assignments.map((a) => a.deviceIp ?? `class ${a.deviceClass}`).join(', ')}
      </p>
      {analyst ? (
        <form class="inline-form" onSubmit={(e) => e.preventDefault()} aria-label={`Edit ${p.name}`}>
          <label class="wide">
            Rules (JSON)
            <textarea name="rules" rows={8} value={rules} onInput={(e) => setRules(e.currentTarget.value)} />
          </label>
          <button type="button" onClick={saveRules}>
            Save rules
          </button>
          <button type="button" onClick={() => patch({ enabled: !p.enabled })}>
            {p.enabled ? 'Disable' : 'Enable'}
          </button>
          <label>
            Assign to device or class
            <input name="target" value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
          </label>
          <button type="button" disabled={!target.trim()} onClick={assign}>
            Assign
          </button>
        </form>
      ) : (
        <Raw value={p.rules} />
      )}
      <button type="button" onClick={dryRun}>
        Dry run: who would violate it (24 h)
      </button>
      {msg && <p class="note">{msg}</p>}
      {dry && (
        <div class="preview" data-testid={`violations-${p.id}`}>
          <p>
            {dry.violating.length} of {dry.devicesChecked} devices it applies to would violate it (behaviour
            of the last {dry.hours} hours
            {dry.policy.enabled ? '' : '; the policy is disabled, so nothing is enforced today'}).
          </p>
          <Table
            head={false}
            columns={[
              {
                head: 'Device',
                cell: (v) => <a href={`#/devices/${encodeURIComponent(v.deviceIp)}`}>{v.deviceIp}</a>,
              },
              { head: 'Entries', n: true, cell: (v) => v.entries },
              {
                head: 'Examples',
                cell: (v) =>
                  v.examples
                    .map(
                      (e) =>
                        `${e.direction === 'outbound' ? '→' : '←'} ${e.peer.replace(/\/(32|128)$/, '')} ${PROTO[e.protocol] ?? e.protocol}/${e.servicePort} (${e.reason})`,
                    )
                    .join('; '),
              },
            ]}
            rows={dry.violating}
            rowKey={(v) => v.deviceIp}
          />
        </div>
      )}
    </Card>
  );
}
