// Requests: quarantines waiting for a person (life-critical devices, and automatic ones held by the
// circuit breaker), approved or rejected with a reason in one action; recent enforcement decisions below.
import { useState } from 'preact/hooks';
import {
  api,
  can,
  type EnforcementDecision,
  errorText,
  must,
  type QuarantineRequest,
  type Role,
} from '../api.ts';
import { Table } from '../table.tsx';
import { Card, ErrorLine, fmtTime, Tag, useLoad } from '../util.tsx';
import { Evidence } from './alerts.tsx';

const WHY: Record<string, string> = {
  'life-critical': 'the device is life-critical: never quarantined automatically',
  breaker: 'the circuit breaker is open: too many automatic quarantines this hour',
};

const deviceLink = (ip: string) => <a href={`#/devices/${encodeURIComponent(ip)}`}>{ip}</a>;
const policyLink = (id: number | null) => (id === null ? '–' : <a href="#/policies">policy {id}</a>);

function RequestCard(props: { r: QuarantineRequest; role: Role; onDecided: () => void }) {
  const { r } = props;
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const decide = async (decision: 'approve' | 'reject') => {
    setBusy(true);
    const { error } = await api.POST('/v1/quarantine-requests/{id}', {
      params: { path: { id: r.id } },
      body: { decision, reason: reason.trim() },
    });
    setBusy(false);
    if (error) return setError(errorText(error));
    setError(undefined);
    props.onDecided();
  };
  return (
    <Card title={`Request ${r.id}: quarantine ${r.deviceIp}`} id={`request-${r.id}`}>
      <dl class="facts" data-testid="request" data-id={r.id}>
        <dt>Device</dt>
        <dd>{deviceLink(r.deviceIp)}</dd>
        <dt>Policy</dt>
        <dd>{policyLink(r.policyId)}</dd>
        <dt>Reason</dt>
        <dd>{r.reason}</dd>
        <dt>Why a person decides</dt>
        <dd>{WHY[r.why] ?? r.why}</dd>
        <dt>Requested</dt>
        <dd>{fmtTime(r.createdAt)}</dd>
      </dl>
      <Evidence evidence={r.evidence} />
      {can(props.role, 'analyst') && (
        <form
          class="inline-form"
          aria-label={`Decide request ${r.id}`}
          onSubmit={(e) => {
            e.preventDefault();
            // The submitter names the decision; Enter submits the first (approve) only with a reason.
            const which = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value;
            decide(which === 'reject' ? 'reject' : 'approve');
          }}
        >
          <label>
            Reason (required)
            <input
              name="reason"
              required
              minLength={1}
              value={reason}
              onInput={(e) => setReason(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="danger" value="approve" disabled={busy}>
            Approve: quarantine now
          </button>
          <button type="submit" value="reject" disabled={busy}>
            Reject
          </button>
        </form>
      )}
      <ErrorLine error={error} />
    </Card>
  );
}

function Decisions(props: { items: EnforcementDecision[] | undefined }) {
  return (
    <Table
      testid="decisions"
      columns={[
        { head: 'At', cell: (d) => fmtTime(d.at) },
        { head: 'Device', cell: (d) => deviceLink(d.deviceIp) },
        { head: 'Policy', cell: (d) => policyLink(d.policyId) },
        { head: 'Outcome', cell: (d) => <Tag value={d.outcome} /> },
        {
          head: 'Detail',
          cell: (d) =>
            Object.entries(d.detail)
              .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join('; '),
        },
      ]}
      rows={props.items?.slice(0, 50)}
      rowKey={(d) => d.id}
    />
  );
}

export function RequestsPage(props: { role: Role }) {
  const pending = useLoad(() => must(api.GET('/v1/quarantine-requests')), [], 5000);
  const decided = useLoad(
    async () => {
      const [a, r] = await Promise.all([
        must(api.GET('/v1/quarantine-requests', { params: { query: { status: 'approved' } } })),
        must(api.GET('/v1/quarantine-requests', { params: { query: { status: 'rejected' } } })),
      ]);
      return [...a.items, ...r.items]
        .sort((x, y) => (y.decidedAt ?? '').localeCompare(x.decidedAt ?? ''))
        .slice(0, 20);
    },
    [],
    10000,
  );
  const decisions = useLoad(() => must(api.GET('/v1/enforcement/decisions')), [], 10000);
  const reload = () => {
    pending.reload();
    decided.reload();
    decisions.reload();
  };
  return (
    <div class="page requests">
      <h1>Quarantine requests</h1>
      <ErrorLine error={pending.error ?? decided.error ?? decisions.error} />
      {pending.data?.items.length === 0 && (
        <p data-testid="no-requests">No quarantine waits for a decision.</p>
      )}
      {pending.data?.items.map((r) => (
        <RequestCard key={r.id} r={r} role={props.role} onDecided={reload} />
      ))}
      <Card title="Recently decided">
        <Table
          testid="decided"
          columns={[
            { head: 'Decided', cell: (r) => fmtTime(r.decidedAt) },
            { head: 'Device', cell: (r) => deviceLink(r.deviceIp) },
            { head: 'Status', cell: (r) => <Tag value={r.status} /> },
            { head: 'By', cell: (r) => r.decidedBy ?? '–' },
            { head: 'Note', cell: (r) => r.decisionNote ?? '–' },
          ]}
          rows={decided.data}
          rowKey={(r) => r.id}
        />
      </Card>
      <Card title="Recent enforcement decisions">
        <Decisions items={decisions.data?.items} />
      </Card>
    </div>
  );
}
