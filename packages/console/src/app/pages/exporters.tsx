// Exporters: health and trust per exporter (admins trust or block), and the router configuration
// generator (vendor -> snippet, copy button).
import { useState } from 'preact/hooks';
import { api, can, errorText, must, type Role } from '../api.ts';
import { TrustState, useTrust } from '../trust.tsx';
import { Card, ErrorLine, fmtTime, useLoad } from '../util.tsx';

const VENDORS = ['cisco-iosxe', 'junos', 'mikrotik', 'fortigate', 'panos', 'softflowd'] as const;
type Vendor = (typeof VENDORS)[number];

export function ExportersPage(props: { role: Role }) {
  const list = useLoad(() => must(api.GET('/v1/exporters')), [], 5000);
  const trust = useTrust(5000);
  const [trustError, setTrustError] = useState<string>();
  const admin = can(props.role, 'admin');
  const setState = async (address: string, state: 'trusted' | 'blocked') => {
    const { error } = await api.PUT('/v1/exporters/{address}/trust', {
      params: { path: { address } },
      body: { state },
    });
    setTrustError(error ? errorText(error) : undefined);
    trust.reload();
  };
  const [vendor, setVendor] = useState<Vendor>('cisco-iosxe');
  const [collector, setCollector] = useState(`${location.hostname}:2055`);
  const [iface, setIface] = useState('');
  const [snippet, setSnippet] = useState<string>();
  const [error, setError] = useState<string>();
  const [copied, setCopied] = useState(false);
  const render = async (e: Event) => {
    e.preventDefault();
    setCopied(false);
    const q = new URLSearchParams({ vendor, collector });
    if (iface.trim()) q.set('interface', iface.trim());
    const res = await fetch(`/v1/exporters/config?${q.toString()}`, { credentials: 'same-origin' });
    const text = await res.text();
    if (res.ok) {
      setSnippet(text);
      setError(undefined);
    } else {
      setSnippet(undefined);
      setError((JSON.parse(text) as { error: { message: string } }).error.message);
    }
  };
  const buttons = (address: string, state: string | undefined) => (
    <td class="buttons">
      {state !== 'trusted' && (
        <button type="button" onClick={() => setState(address, 'trusted')}>
          Trust
        </button>
      )}
      {state !== 'blocked' && (
        <button type="button" class="danger" onClick={() => setState(address, 'blocked')}>
          Block
        </button>
      )}
    </td>
  );
  // Addresses in the trust table with no health row: allowlisted or decided before they ever sent.
  const seen = new Set(list.data?.items.map((x) => x.address));
  const unseen = list.data ? [...(trust.data?.values() ?? [])].filter((t) => !seen.has(t.address)) : [];
  return (
    <div class="page exporters">
      <h1>Exporters</h1>
      <ErrorLine error={list.error ?? trust.error ?? trustError} />
      <Card title="Health">
        <table class="list" data-testid="exporters">
          <thead>
            <tr>
              <th>Exporter / domain</th>
              <th>Trust</th>
              <th>Version</th>
              <th class="n">Records/s</th>
              <th class="n">Records</th>
              <th class="n">Templates</th>
              <th class="n">Sequence loss</th>
              <th class="n">Sampling</th>
              <th class="n">Decode errors</th>
              <th>Transports</th>
              <th>Last seen</th>
              {admin && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((x) => {
              const t = trust.data?.get(x.address);
              return (
                <tr
                  key={`${x.address}/${x.observationDomain}`}
                  data-address={x.address}
                  class={t?.state === 'pending' ? 'pending' : undefined}
                >
                  <td>
                    {x.address} / {x.observationDomain}
                  </td>
                  <td>
                    <TrustState trust={t} />
                  </td>
                  <td>{x.version ?? '–'}</td>
                  <td class="n">{x.recordsPerSecond.toFixed(1)}</td>
                  <td class="n">{x.records}</td>
                  <td class="n">{x.templates}</td>
                  <td class="n">
                    {x.sequenceLost} {x.sequenceUnit}
                  </td>
                  <td class="n">1:{x.samplingInterval || 1}</td>
                  <td class="n">{x.decodeErrors}</td>
                  <td>{x.transports.join(', ')}</td>
                  <td>{fmtTime(x.lastSeen)}</td>
                  {admin && buttons(x.address, t?.state)}
                </tr>
              );
            })}
            {unseen.map((t) => (
              <tr
                key={t.address}
                data-address={t.address}
                class={t.state === 'pending' ? 'pending' : undefined}
              >
                <td>{t.address}</td>
                <td>
                  <TrustState trust={t} />
                </td>
                <td colSpan={9}>no flows received yet</td>
                {admin && buttons(t.address, t.state)}
              </tr>
            ))}
          </tbody>
        </table>
        {list.data?.items.length === 0 && unseen.length === 0 && <p>No exporter has sent flows yet.</p>}
      </Card>
      <Card title="Router configuration">
        <form class="inline-form" onSubmit={render} aria-label="Router configuration">
          <label>
            Vendor
            <select name="vendor" value={vendor} onChange={(e) => setVendor(e.currentTarget.value as Vendor)}>
              {VENDORS.map((v) => (
                <option>{v}</option>
              ))}
            </select>
          </label>
          <label>
            Collector (host:port)
            <input name="collector" value={collector} onInput={(e) => setCollector(e.currentTarget.value)} />
          </label>
          <label>
            Interface
            <input name="interface" value={iface} onInput={(e) => setIface(e.currentTarget.value)} />
          </label>
          <button type="submit">Generate</button>
        </form>
        <ErrorLine error={error} />
        {snippet && (
          <>
            <pre class="raw" data-testid="snippet">
              {snippet}
            </pre>
            <button
              type="button"
              onClick={() => navigator.clipboard.writeText(snippet).then(() => setCopied(true))}
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
          </>
        )}
      </Card>
    </div>
  );
}
