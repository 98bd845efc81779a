// Panel, target, variable and dashboard builders shared by every Wardwatch dashboard.
/** Data sources provisioned by deploy/grafana/provisioning/datasources/wardwatch.yaml. */
export const POSTGRES = { type: 'grafana-postgresql-datasource', uid: 'wardwatch-postgres' } as const;
export const PROMETHEUS = { type: 'prometheus', uid: 'wardwatch-prometheus' } as const;

/** A dashboard or panel object, as Grafana's JSON model. */
export type Json = Record<string, unknown>;
/** A panel's position on the 24-column grid. */
export interface Grid {
  x: number;
  y: number;
  w: number;
  h: number;
}

let nextId = 1;

/** Restarts panel ids at 1; each dashboard calls it first, so ids are stable per file. */
export function resetPanelIds(): void {
  nextId = 1;
}

export function sqlTarget(rawSql: string, format: 'time_series' | 'table'): Json {
  return { refId: 'A', datasource: POSTGRES, editorMode: 'code', format, rawQuery: true, rawSql };
}

export function promTarget(expr: string, legendFormat: string, refId = 'A'): Json {
  return { refId, datasource: PROMETHEUS, editorMode: 'code', expr, legendFormat, range: true };
}

export function panel(type: string, title: string, gridPos: Grid, targets: Json[], extra: Json = {}): Json {
  const ds = (targets[0]?.datasource as Json | undefined) ?? POSTGRES;
  return { id: nextId++, type, title, gridPos, datasource: ds, targets, ...extra };
}

export const unit = (u: string, overrides: Json[] = []) => ({
  fieldConfig: { defaults: { unit: u }, overrides },
});

export function stat(title: string, gridPos: Grid, sql: string, u = 'short', thresholds?: number[]): Json {
  const steps = [{ color: 'green', value: null }];
  const colors = ['orange', 'red'];
  for (const [i, v] of (thresholds ?? []).entries())
    steps.push({ color: colors[i] ?? 'red', value: v as never });
  return panel('stat', title, gridPos, [sqlTarget(sql, 'table')], {
    fieldConfig: { defaults: { unit: u, thresholds: { mode: 'absolute', steps } }, overrides: [] },
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value' },
  });
}

export function timeseries(
  title: string,
  gridPos: Grid,
  targets: Json[],
  u = 'short',
  stacked = false,
): Json {
  return panel('timeseries', title, gridPos, targets, {
    fieldConfig: {
      defaults: {
        unit: u,
        custom: stacked
          ? { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 80 }
          : { drawStyle: 'line', fillOpacity: 10 },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
  });
}

/** A table; `link` names the column whose cells open the device drill-down. */
export function table(
  title: string,
  gridPos: Grid,
  sql: string,
  opts: { link?: string; units?: Json } = {},
): Json {
  const overrides: Json[] = [];
  if (opts.link) {
    overrides.push({
      matcher: { id: 'byName', options: opts.link },
      properties: [
        {
          id: 'links',
          value: [
            {
              title: 'Device drill-down',
              url: `/d/wardwatch-device/wardwatch-device?\${__url_time_range}&var-device=\${__data.fields.${opts.link}}`,
            },
          ],
        },
      ],
    });
  }
  for (const [name, u] of Object.entries(opts.units ?? {})) {
    overrides.push({ matcher: { id: 'byName', options: name }, properties: [{ id: 'unit', value: u }] });
  }
  return panel('table', title, gridPos, [sqlTarget(sql, 'table')], {
    fieldConfig: { defaults: {}, overrides },
    options: { showHeader: true, cellHeight: 'sm' },
  });
}

export function sqlVariable(name: string, label: string, query: string, multi: boolean): Json {
  return {
    name,
    label,
    type: 'query',
    datasource: POSTGRES,
    query,
    definition: query,
    refresh: 2,
    multi,
    includeAll: multi,
    sort: 1,
    current: {},
  };
}

export function dashboard(
  uid: string,
  title: string,
  panels: Json[],
  variables: Json[] = [],
  from = 'now-6h',
): Json {
  return {
    uid,
    title,
    tags: ['wardwatch'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '1m',
    time: { from, to: 'now' },
    links: [
      { type: 'dashboards', tags: ['wardwatch'], asDropdown: true, title: 'Wardwatch', includeVars: false },
    ],
    templating: { list: variables },
    annotations: { list: [] },
    panels,
  };
}

// The class a device is shown with: the analyst's override wins over inference.
export const CLASS = 'COALESCE(d.class_override, d.class)';
export const SEVERITY_ORDER =
  "CASE a.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END";
