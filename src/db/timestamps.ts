import pg from 'pg';

/** PostgreSQL's `timestamptz` type OID. */
export const TIMESTAMPTZ = 1184;

const parseAny = pg.types.getTypeParser(TIMESTAMPTZ) as (text: string) => unknown;

/** The number written by the digits at `from`..`to` of `text`, or NaN when one of them is not a digit. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    value = value * 10 + d;
  }
  return value;
}

/**
 * The pg driver's `timestamptz` parser (postgres-date), with a fast path for the one form a connection whose
 * `TimeZone` is UTC returns (`DateStyle` ISO, PostgreSQL §8.5.2): `YYYY-MM-DD HH:MM:SS[.ffffff]+00`, years 1000–9999.
 * The same Date as the driver's parser: the fraction is turned into milliseconds the same way (`1000 × fraction`,
 * then truncated by `Date.UTC`). Anything else (another offset, BC, infinity) goes to the driver's parser. The
 * per-request session read parses three per session (DESIGN §3 step 2), and postgres-date runs three regular
 * expressions and a second Date update for each.
 */
export function parseTimestamptz(text: string): unknown {
  const n = text.length;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  const shape =
    (n === 22 || (n >= 24 && n <= 29 && text.charCodeAt(19) === 46 && digits(text, 20, n - 3) >= 0)) &&
    text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45 && text.charCodeAt(10) === 32 && text.charCodeAt(13) === 58 && text.charCodeAt(16) === 58 &&
    text.charCodeAt(n - 3) === 43 && text.charCodeAt(n - 2) === 48 && text.charCodeAt(n - 1) === 48;
  // NaN fails the comparison too; years below 1000 (0–99 are read as 1900–1999 by Date.UTC) go to the driver.
  if (!shape || !(year >= 1000) || Number.isNaN(month + day + hour + minute + second)) return parseAny(text);
  const ms = n === 22 ? 0 : 1000 * parseFloat(text.slice(19, n - 3));
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
}
