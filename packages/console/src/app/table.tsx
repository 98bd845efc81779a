// Tables: a list table drawn from column definitions, and keyset paging (a stack of cursors and its pager).
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/** One column of a {@link Table}: its heading, its cell for a row, `n` to right-align a figure. */
export interface Column<R> {
  head: ComponentChildren;
  cell: (row: R) => ComponentChildren;
  n?: boolean;
}

/** Attributes of a row: data-* for tests and links, a class for highlighting. */
type RowAttrs = Record<string, string | number | undefined>;

/**
 * A `table.list` of `rows`, one cell per column; a column given as `false` is left out (columns shown
 * by role). With `head={false}` the table has no header row.
 */
export function Table<R>(props: {
  columns: ReadonlyArray<Column<R> | false>;
  rows: readonly R[] | undefined;
  /** A row's identity (default its position). */
  rowKey?: (row: R) => string | number;
  rowAttrs?: (row: R) => RowAttrs;
  testid?: string;
  caption?: ComponentChildren;
  head?: boolean;
}) {
  const cols = props.columns.filter((c): c is Column<R> => c !== false);
  const cls = (c: Column<R>) => (c.n ? 'n' : undefined);
  return (
    <table class="list" data-testid={props.testid}>
      {props.caption !== undefined && <caption>{props.caption}</caption>}
      {props.head !== false && (
        <thead>
          <tr>
            {cols.map((c) => (
              <th class={cls(c)}>{c.head}</th>
            ))}
          </tr>
        </thead>
      )}
      <tbody>
        {props.rows?.map((r, i) => (
          <tr key={props.rowKey ? props.rowKey(r) : i} {...props.rowAttrs?.(r)}>
            {cols.map((c) => (
              <td class={cls(c)}>{c.cell(r)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Keyset paging state: the cursor of the page shown and how to move a page back or forward. */
export interface Pages {
  cursor: string | undefined;
  page: number;
  back: () => void;
  forward: (next: string) => void;
}

/** Keyset pages of a list whose filters are `key`: back to the first page when the filters change. */
export function usePages(key: string): Pages {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [seen, setSeen] = useState(key);
  if (seen !== key) {
    setSeen(key);
    setCursors([undefined]);
  }
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    back: () => setCursors(cursors.slice(0, -1)),
    forward: (next) => setCursors([...cursors, next]),
  };
}

/** Previous / Page N / Next under a paged list; `next` is the list's next cursor (none on the last page). */
export function Pager(props: { pages: Pages; next: string | null | undefined }) {
  const { pages, next } = props;
  return (
    <div class="pager">
      <button type="button" disabled={pages.page < 2} onClick={pages.back}>
        Previous
      </button>
      <span>Page {pages.page}</span>
      <button type="button" disabled={!next} onClick={() => next && pages.forward(next)}>
        Next
      </button>
    </div>
  );
}
