// Devices: search (address, MAC, label), filters, sort, keyset pages of 100, CSV export of the same filters.
import { useState } from 'preact/hooks';
import { api, type Device, must } from '../api.ts';
import { type Column, Pager, Table, usePages } from '../table.tsx';
import { Card, ErrorLine, FilterInput, FilterSelect, fmtBytes, fmtTime, go, Tag, useLoad } from '../util.tsx';

type Sort = 'ip' | '-risk' | '-lastSeen';
const YES_NO = [
  ['', 'any'],
  ['true', 'yes'],
  ['false', 'no'],
] as const;
/** The filters chosen from a list, in the form's order. */
const CHOICES = [
  {
    name: 'minRisk',
    label: 'Risk at least',
    options: [
      ['', 'any'],
      ['25', '25'],
      ['50', '50'],
      ['75', '75'],
    ],
  },
  { name: 'quarantined', label: 'Quarantined', options: YES_NO },
  { name: 'hasOpenAlerts', label: 'Open alerts', options: YES_NO },
  {
    name: 'firstSeen',
    label: 'First seen',
    options: [
      ['', 'any time'],
      ['1h', 'last hour'],
      ['24h', 'last 24 h'],
      ['168h', 'last 7 days'],
    ],
  },
] as const;
const FILTERS = [
  'q',
  'class',
  'minRisk',
  'quarantined',
  'hasOpenAlerts',
  'criticality',
  'firstSeen',
  'vlan',
  'exporter',
  'sort',
];

/** The list's query from the route: `firstSeen=24h` means first seen in the last 24 hours. */
function listQuery(query: URLSearchParams) {
  const seen = query.get('firstSeen');
  const hours = seen && /^\d+h$/.test(seen) ? Number(seen.slice(0, -1)) : undefined;
  const bool = (k: string) => (query.get(k) === 'true' ? true : query.get(k) === 'false' ? false : undefined);
  return {
    q: query.get('q') || undefined,
    class: query.get('class') || undefined,
    minRisk: query.get('minRisk') ? Number(query.get('minRisk')) : undefined,
    quarantined: bool('quarantined'),
    hasOpenAlerts: bool('hasOpenAlerts'),
    criticality: (query.get('criticality') || undefined) as
      | 'low'
      | 'medium'
      | 'high'
      | 'critical'
      | undefined,
    firstSeenSince: hours ? new Date(Date.now() - hours * 3600_000).toISOString() : undefined,
    vlan: query.get('vlan') ? Number(query.get('vlan')) : undefined,
    exporter: query.get('exporter') || undefined,
    sort: (query.get('sort') || 'ip') as Sort,
  };
}

export function DevicesPage(props: { query: URLSearchParams }) {
  const q = listQuery(props.query);
  const key = props.query.toString();
  const pages = usePages(key);
  const cursor = pages.cursor;
  const list = useLoad(
    () => must(api.GET('/v1/devices', { params: { query: { ...q, limit: 100, cursor } } })),
    [key, cursor],
  );
  const [text, setText] = useState(props.query.get('q') ?? '');
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(props.query);
    if (v) next.set(k, v);
    else next.delete(k);
    go(`/devices?${next.toString()}`);
  };
  const csv = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && k !== 'sort') csv.set(k, String(v));
  return (
    <div class="page devices">
      <h1>Devices</h1>
      <form
        class="filters"
        aria-label="Search devices"
        onSubmit={(e) => {
          e.preventDefault();
          set('q', text.trim());
        }}
      >
        <label>
          Search
          <input
            type="search"
            name="q"
            placeholder="address, MAC, label"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Search</button>
        <FilterInput
          name="class"
          label="Class"
          value={props.query.get('class') ?? ''}
          onChange={(v) => set('class', v)}
        />
        {CHOICES.map((c) => (
          <FilterSelect
            key={c.name}
            {...c}
            value={props.query.get(c.name) ?? ''}
            onChange={(v) => set(c.name, v)}
          />
        ))}
        <label>
          VLAN
          <input
            name="vlan"
            type="number"
            min={0}
            max={4095}
            value={props.query.get('vlan') ?? ''}
            onChange={(e) => set('vlan', e.currentTarget.value.trim())}
          />
        </label>
        <FilterInput
          name="exporter"
          label="Exporter"
          value={props.query.get('exporter') ?? ''}
          onChange={(v) => set('exporter', v)}
        />
        <FilterSelect
          name="sort"
          label="Sort"
          value={q.sort}
          options={[
            ['ip', 'address'],
            ['-risk', 'risk'],
            ['-lastSeen', 'last seen'],
          ]}
          onChange={(v) => set('sort', v)}
        />
        <a class="button" href={`/v1/devices.csv?${csv.toString()}`} download="devices.csv">
          Export CSV
        </a>
        {FILTERS.some((f) => props.query.has(f)) && (
          <button type="button" class="link" onClick={() => go('/devices')}>
            Clear
          </button>
        )}
      </form>
      <ErrorLine error={list.error} />
      <Card title="Inventory">
        <DeviceTable items={list.data?.items ?? []} />
        <Pager pages={pages} next={list.data?.nextCursor} />
      </Card>
    </div>
  );
}

const COLUMNS: Column<Device>[] = [
  {
    head: 'Address',
    cell: (d) => (
      <>
        <a href={`#/devices/${encodeURIComponent(d.ip)}`}>{d.ip}</a>
        {d.quarantined && <Tag value="quarantined" kind="warn" />}
      </>
    ),
  },
  { head: 'MAC', cell: (d) => d.mac ?? '–' },
  { head: 'Class', cell: (d) => d.class },
  { head: 'Label', cell: (d) => d.label ?? '' },
  { head: 'Risk', n: true, cell: (d) => d.risk },
  { head: 'Open alerts', n: true, cell: (d) => d.openAlerts },
  { head: 'Traffic', n: true, cell: (d) => fmtBytes(d.bytes) },
  { head: 'Last seen', cell: (d) => fmtTime(d.lastSeen) },
];

function DeviceTable(props: { items: Device[] }) {
  return (
    <Table
      testid="devices"
      columns={COLUMNS}
      rows={props.items}
      rowKey={(d) => d.ip}
      rowAttrs={(d) => ({ 'data-ip': d.ip })}
    />
  );
}
