import { describe, expect, it } from 'vitest';
import { read, sourceFiles, sqlUses } from './source-scan.js';

/**
 * DESIGN §6: SQL lives in a feature's `*.store.ts` (and in db/, which runs the migrations and opens units of
 * work); services, routes, the CLI and http/ build no query. Kysely query-builder calls and `sql` templates
 * anywhere else fail this test, naming the file and line. Tests are exempt: they set up and inspect rows.
 */
const SQL_PLACES = [/\.store\.ts$/, /^src\/db\//, /\.test\.ts$/];

export function sqlOutsideStores(files: readonly string[], readFile: (file: string) => string): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const file of files) {
    if (SQL_PLACES.some((p) => p.test(file))) continue;
    const uses = sqlUses(readFile(file));
    if (uses.length > 0) found[file] = uses;
  }
  return found;
}

describe('SQL only in *.store.ts', () => {
  it('no file outside a store (or db/) builds SQL', () => {
    const found = sqlOutsideStores(sourceFiles(), read);
    expect(Object.entries(found).map(([file, lines]) => `${file} builds SQL outside a *.store.ts:\n  ${lines.join('\n  ')}`)).toEqual([]);
  });

  it('flags a query in a service, a raw sql template, and ignores one in a comment', () => {
    const sources: Record<string, string> = {
      'src/features/x/x.service.ts': "export const f = (tx) => tx.selectFrom('users').selectAll().execute();",
      'src/features/x/y.service.ts': 'export const g = (tx) => sql<{ n: number }>`select 1 as n`.execute(tx);',
      'src/features/x/z.service.ts': "// tx.selectFrom('users') is what the store does\nexport const h = 1;",
      'src/features/x/x.store.ts': "export const f = (tx) => tx.selectFrom('users').selectAll().execute();",
    };
    expect(Object.keys(sqlOutsideStores(Object.keys(sources), (f) => sources[f]!))).toEqual(['src/features/x/x.service.ts', 'src/features/x/y.service.ts']);
  });
});
