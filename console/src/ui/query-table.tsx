import { Table, VisuallyHidden } from '@mantine/core';
import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Empty, ErrorState, Loading } from './states';

export interface Column<T> {
  /** The header; a column of buttons still names itself to screen readers (WCAG 1.3.1), hidden from view. */
  readonly header: string;
  readonly hideHeader?: boolean;
  readonly cell: (row: T) => ReactNode;
}

/** Rows already at hand as a table: a header per column, a row per item. */
export function DataTable<T>(props: { rows: readonly T[]; rowKey: (row: T) => string; columns: readonly Column<T>[]; striped?: boolean; highlightOnHover?: boolean; testId?: string }) {
  return (
    <Table striped={props.striped ?? false} highlightOnHover={props.highlightOnHover ?? false} data-testid={props.testId}>
      <Table.Thead>
        <Table.Tr>
          {props.columns.map((c) => (
            <Table.Th key={c.header}>{c.hideHeader ? <VisuallyHidden>{c.header}</VisuallyHidden> : c.header}</Table.Th>
          ))}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {props.rows.map((row) => (
          <Table.Tr key={props.rowKey(row)}>
            {props.columns.map((c) => (
              <Table.Td key={c.header}>{c.cell(row)}</Table.Td>
            ))}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/**
 * A list the API answers, in the four states every list has: loading, an error with "Try again", empty (in words
 * that say what to do), and the table.
 */
export function QueryTable<D, T>(props: {
  query: UseQueryResult<D>;
  rows: (data: D) => readonly T[];
  rowKey: (row: T) => string;
  columns: readonly Column<T>[];
  empty: ReactNode;
  minWidth?: number;
  highlightOnHover?: boolean;
}) {
  const { query } = props;
  if (query.isPending) return <Loading />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} />;
  const rows = props.rows(query.data);
  if (rows.length === 0) return <Empty>{props.empty}</Empty>;
  return (
    <Table.ScrollContainer minWidth={props.minWidth ?? 600}>
      <DataTable rows={rows} rowKey={props.rowKey} columns={props.columns} striped highlightOnHover={props.highlightOnHover ?? true} />
    </Table.ScrollContainer>
  );
}
