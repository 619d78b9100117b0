import type { ChainedEvent } from './audit-chain.js';

export const EXPORT_FORMATS = ['ndjson', 'json', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

export const CSV_COLUMNS = [
  'tenant_id',
  'seq',
  'occurred_at',
  'actor_type',
  'actor_id',
  'actor_email',
  'actor_ip',
  'actor_user_agent',
  'action',
  'target_type',
  'target_id',
  'outcome',
  'error_code',
  'details',
  'prev_hash',
  'hash',
] as const;

// OWASP "CSV Injection": a cell a spreadsheet would read as a formula (= + - @, or a tab / carriage return
// that some programs skip before one) is prefixed with a single quote. A cell that itself starts with a
// quote is prefixed too, so the prefix is always removable: strip one leading quote when the next
// character is one of these.
const FORMULA_START = /^[=+\-@\t\r']/;

/** One CSV cell: formula-neutralized, then quoted as RFC 4180 requires. */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A JSON cell: starts with `{`, never a formula; quoted because JSON has commas and quotes. */
function jsonCell(value: unknown): string {
  return `"${JSON.stringify(value).replace(/"/g, '""')}"`;
}

export function csvRow(e: ChainedEvent): string {
  // Columns whose database type or constraint rules out a formula or a quote (uuid, bigint, timestamptz,
  // the outcome's CHECK) are written as they are; every other cell, even one Tessera wrote, goes through
  // csvCell, since a row altered in the database must not become a formula either.
  return (
    `${e.tenantId},${e.seq},${e.occurredAt},${csvCell(e.actor.type)},${csvCell(e.actor.id)},${csvCell(e.actor.email)},` +
    `${csvCell(e.actor.ip)},${csvCell(e.actor.userAgent)},${csvCell(e.action)},${csvCell(e.target?.type ?? null)},${csvCell(e.target?.id ?? null)},` +
    // CRLF line ends (RFC 4180 §2.1), which every spreadsheet program reads.
    `${e.outcome},${csvCell(e.errorCode)},${jsonCell(e.details)},${csvCell(e.prevHash)},${csvCell(e.hash)}\r\n`
  );
}

/**
 * Serializes events page by page: the caller pulls one chunk per page, so memory stays flat however many
 * events there are. CSV starts with a UTF-8 byte order mark so spreadsheet programs read it as UTF-8.
 */
export async function* serializeEvents(
  format: ExportFormat,
  pages: AsyncIterable<readonly ChainedEvent[]>,
  onRows?: (rows: number) => void,
): AsyncGenerator<string> {
  if (format === 'csv') yield `\uFEFF${CSV_COLUMNS.join(',')}\r\n`;
  if (format === 'json') yield '[';
  let first = true;
  for await (const page of pages) {
    if (page.length === 0) continue;
    let chunk = '';
    for (const e of page) {
      if (format === 'csv') chunk += csvRow(e);
      else if (format === 'ndjson') chunk += `${JSON.stringify(e)}\n`;
      else {
        chunk += `${first ? '\n' : ',\n'}${JSON.stringify(e)}`;
        first = false;
      }
    }
    onRows?.(page.length);
    yield chunk;
  }
  if (format === 'json') yield first ? ']\n' : '\n]\n';
}
