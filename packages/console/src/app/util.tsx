// Small shared pieces: formatting, the hash router, data loading, and table and form helpers.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** Bytes as a short figure (1.2 MB). */
export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A timestamp as local date and time, to the second. */
export function fmtTime(s: string | null | undefined): string {
  if (!s) return '–';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString(undefined, { hour12: false });
}

/** The current hash route, split: `#/devices/10.0.0.1?x=1` -> ['devices', '10.0.0.1'] and its query. */
export function useRoute(): { parts: string[]; query: URLSearchParams } {
  const read = () => {
    const h = location.hash.replace(/^#\/?/, '');
    const [path = '', q = ''] = h.split('?');
    return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** Navigates to a hash route. */
export const go = (path: string) => {
  location.hash = path;
};

/** Loads data when `deps` change; `reload()` loads again; `every` polls (ms). */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
  every?: number,
): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const seq = useRef(0);
  // Callers list what the loader depends on (deps).
  const reload = useCallback(() => {
    const mine = ++seq.current;
    load().then(
      (d) => {
        if (mine === seq.current) {
          setData(d);
          setError(undefined);
        }
      },
      (e: Error) => {
        if (mine === seq.current) setError(e.message);
      },
    );
  }, deps);
  useEffect(() => {
    reload();
    if (!every) return;
    const t = setInterval(reload, every);
    return () => clearInterval(t);
  }, [reload, every]);
  return { data, error, reload };
}

/** A section of a page with a heading. */
export function Card(props: {
  title: string;
  children: ComponentChildren;
  id?: string;
  actions?: ComponentChildren;
}) {
  return (
    <section class="card" id={props.id} aria-label={props.title}>
      <header>
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

/** An error message, or nothing. */
export function ErrorLine(props: { error: string | undefined }) {
  return props.error ? (
    <p class="error" role="alert">
      {props.error}
    </p>
  ) : null;
}

/** A severity or status as a coloured tag. */
export function Tag(props: { value: string | null | undefined; kind?: string }) {
  const v = props.value ?? '–';
  return <span class={`tag ${props.kind ?? ''} v-${v.replace(/[^a-z0-9_-]/gi, '')}`}>{v}</span>;
}

/** A piece of JSON that is not a known shape, shown as indented text (never as HTML). */
export function Raw(props: { value: unknown }) {
  return <pre class="raw">{JSON.stringify(props.value, null, 2)}</pre>;
}

/** A list page's filter: a labelled select of [value, text] options; a choice goes to `onChange`. */
export function FilterSelect(props: {
  name: string;
  label: string;
  value: string;
  options: ReadonlyArray<readonly [string, string]>;
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {props.label}
      <select name={props.name} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map(([v, text]) => (
          <option value={v}>{text}</option>
        ))}
      </select>
    </label>
  );
}

/** A list page's filter: a labelled text input whose trimmed text goes to `onChange` when it changes. */
export function FilterInput(props: {
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        value={props.value}
        onChange={(e) => props.onChange(e.currentTarget.value.trim())}
      />
    </label>
  );
}
