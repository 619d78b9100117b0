import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz, TIMESTAMPTZ } from './timestamps.js';

// Rule: the session read's timestamptz parser returns exactly what the pg driver's parser returns, for every text
// PostgreSQL can send; only the UTC form takes the fast path.
const driver = pg.types.getTypeParser(TIMESTAMPTZ) as (text: string) => unknown;
const same = (text: string) => {
  const ours = parseTimestamptz(text);
  const theirs = driver(text);
  expect(ours instanceof Date ? ours.getTime() : ours, text).toEqual(theirs instanceof Date ? theirs.getTime() : theirs);
};

describe('parseTimestamptz', () => {
  it('reads the UTC form exactly as the driver does, fractions of every length included', () => {
    for (const base of ['2026-12-07 06:38:30', '2000-02-29 23:59:59', '1000-01-01 00:00:00', '9999-12-31 23:59:59', '1970-01-01 00:00:00']) {
      same(`${base}+00`);
      for (const fraction of ['.1', '.29', '.291', '.2915', '.99999', '.999999', '.000001', '.123456', '.5']) same(`${base}${fraction}+00`);
    }
    // Random instants, printed as PostgreSQL prints them in UTC (microseconds, trailing zeros dropped).
    for (let i = 0; i < 2000; i++) {
      const micros = Math.floor(Math.random() * 1e6);
      const iso = new Date(Math.floor(Math.random() * 4e12)).toISOString().slice(0, 19).replace('T', ' ');
      same(`${iso}${micros ? `.${String(micros).padStart(6, '0').replace(/0+$/, '')}` : ''}+00`);
    }
    expect(parseTimestamptz('2026-12-07 06:38:30.291+00')).toEqual(new Date(driver('2026-12-07 06:38:30.291+00') as Date));
  });

  it('hands every other form to the driver', () => {
    for (const text of [
      '2026-12-07 06:38:30+01',
      '2026-12-07 06:38:30.5-05:30',
      '2026-12-07 06:38:30+05:30:15',
      '0099-01-01 00:00:00+00',
      '0500-06-01 12:00:00+00',
      '2026-12-07 06:38:30+00 BC',
      '12026-12-07 06:38:30+00',
      'infinity',
      '-infinity',
      '2026-12-07 06:38:30.1234567+00',
      '2026-12-07T06:38:30+00',
      '2026-12-07 06:38:30.+00',
      '2026-12-07 06:3a:30+00',
    ]) same(text);
  });
});
