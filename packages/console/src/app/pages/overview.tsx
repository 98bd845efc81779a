// Overview: devices by class and risk, new devices, open alerts by severity, newest alerts, exporters'
// health and the ingest rate; polled every 5 s.
import { api, must } from '../api.ts';
import { Table } from '../table.tsx';
import { TrustState, useTrust } from '../trust.tsx';
import { Card, ErrorLine, fmtTime, useLoad } from '../util.tsx';
import { alertColumns } from './alerts.tsx';

function Bars(props: {
  items: Array<{ name: string; n: number }>;
  id: string;
  link?: (name: string) => string;
}) {
  const max = Math.max(1, ...props.items.map((i) => i.n));
  return (
    <table class="bars" data-testid={props.id}>
      <tbody>
        {props.items.map((i) => (
          <tr key={i.name} data-name={i.name} data-n={i.n}>
            <th scope="row">{props.link ? <a href={props.link(i.name)}>{i.name}</a> : i.name}</th>
            <td class="n">{i.n}</td>
            <td class="bar">
              <meter min={0} max={max} value={i.n} aria-label={`${i.name}: ${i.n}`} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function OverviewPage() {
  const overview = useLoad(() => must(api.GET('/v1/overview')), [], 5000);
  const alerts = useLoad(
    () => must(api.GET('/v1/alerts', { params: { query: { status: 'open', limit: 10 } } })),
    [],
    5000,
  );
  const exporters = useLoad(() => must(api.GET('/v1/exporters')), [], 5000);
  const trust = useTrust(5000);
  const requests = useLoad(() => must(api.GET('/v1/quarantine-requests')), [], 5000);
  const o = overview.data;
  return (
    <div class="page overview">
      <h1>Overview</h1>
      <ErrorLine error={overview.error ?? alerts.error ?? exporters.error ?? trust.error ?? requests.error} />
      {o && (
        <div class="figures">
          <a class="figure" href="#/devices" data-testid="devices-total">
            <b>{o.devices.total}</b> devices
          </a>
          <a class="figure" href="#/devices?firstSeen=24h" data-testid="devices-new">
            <b>{o.devices.newLast24h}</b> new (24 h)
          </a>
          <a class="figure" href="#/devices?quarantined=true" data-testid="devices-quarantined">
            <b>{o.devices.quarantined}</b> quarantined
          </a>
          <a class="figure" href="#/alerts" data-testid="alerts-open">
            <b>{o.alerts.open}</b> open alerts
          </a>
          <a class="figure" href="#/requests" data-testid="requests-pending">
            <b>{requests.data?.items.length ?? '–'}</b> quarantine request
            {requests.data?.items.length === 1 ? '' : 's'} to decide
          </a>
          <span class="figure" data-testid="ingest-rate">
            <b>{Math.round(o.ingest.recordsPerSecond)}</b> records/s from {o.ingest.exporters} exporters
          </span>
        </div>
      )}
      <div class="grid">
        <Card title="Devices by class">
          {o && (
            <Bars
              id="by-class"
              items={o.devices.byClass}
              link={(c) => `#/devices?class=${encodeURIComponent(c)}`}
            />
          )}
        </Card>
        <Card title="Devices by risk">{o && <Bars id="by-risk" items={o.devices.byRisk} />}</Card>
        <Card title="Open alerts by severity">
          {o && (
            <Bars
              id="by-severity"
              items={o.alerts.openBySeverity}
              link={(s) => `#/alerts?severity=${encodeURIComponent(s)}`}
            />
          )}
        </Card>
      </div>
      <Card title="Newest open alerts">
        <Table
          columns={[alertColumns.lastSeen, alertColumns.severity, alertColumns.title, alertColumns.device]}
          rows={alerts.data?.items}
          rowKey={(a) => a.id}
        />
      </Card>
      <Card title="Exporters">
        <Table
          columns={[
            { head: 'Exporter', cell: (e) => `${e.address} / ${e.observationDomain}` },
            { head: 'Trust', cell: (e) => <TrustState trust={trust.data?.get(e.address)} /> },
            { head: 'Version', cell: (e) => e.version ?? '–' },
            { head: 'Records/s', n: true, cell: (e) => e.recordsPerSecond.toFixed(1) },
            { head: 'Sequence loss', n: true, cell: (e) => `${e.sequenceLost} ${e.sequenceUnit}` },
            { head: 'Last seen', cell: (e) => fmtTime(e.lastSeen) },
          ]}
          rows={exporters.data?.items}
          rowKey={(e) => `${e.address}/${e.observationDomain}`}
          rowAttrs={(e) => ({
            class: trust.data?.get(e.address)?.state === 'pending' ? 'pending' : undefined,
          })}
        />
      </Card>
    </div>
  );
}
