import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, and every TypeScript file under src/ as a path relative to it (forward slashes). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function sourceFiles(dir = 'src'): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (entry.name.endsWith('.ts')) out.push(rel);
  }
  return out.sort();
}

export function read(rel: string): string {
  return readFileSync(path.join(ROOT, rel), 'utf8');
}

/** Comments removed (so that a comment naming a table or showing a query is not taken for SQL). */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** Kysely query-builder calls and `sql` templates: what "SQL" means for the rule "SQL only in *.store.ts". */
const SQL_USE = /\.(selectFrom|insertInto|replaceInto|updateTable|deleteFrom|mergeInto)\(|\bsql\s*(<[^`;]*?>)?\s*`|\bsql\.(raw|ref|id|table|lit|join|val)\(/;

/** The lines of `source` that build SQL, as `line: text`. */
export function sqlUses(source: string): string[] {
  return withoutComments(source)
    .split('\n')
    .flatMap((line, i) => (SQL_USE.test(line) ? [`${i + 1}: ${line.trim()}`] : []));
}

const BUILDER_TABLE = /\.(selectFrom|insertInto|replaceInto|updateTable|deleteFrom|mergeInto|innerJoin|leftJoin|rightJoin|fullJoin|crossJoin|using)\(\s*'([a-z_][a-z0-9_]*)(?:\s+as\s+\w+)?'/g;
const BUILDER_TABLE_LIST = /\.(selectFrom|deleteFrom|updateTable)\(\s*\[([^\]]*)\]/g;
const SQL_TEMPLATE = /\bsql\s*(?:<[^`;]*?>)?\s*`([^`]*)`/g;
/** A table after FROM, JOIN, UPDATE or INTO in raw SQL; a name followed by `(` is a function, not a table. */
const RAW_TABLE = /\b(?:from|join|update|into)\s+([a-z_][a-z0-9_]*)\b(?!\s*\()/gi;

/** Every table name `source` names in a Kysely call or in raw `sql` text, restricted to `known` tables. */
export function tablesTouched(source: string, known: ReadonlySet<string>): Set<string> {
  const code = withoutComments(source);
  const found = new Set<string>();
  for (const m of code.matchAll(BUILDER_TABLE)) found.add(m[2]!);
  for (const m of code.matchAll(BUILDER_TABLE_LIST)) for (const t of m[2]!.matchAll(/'([a-z_][a-z0-9_]*)/g)) found.add(t[1]!);
  for (const m of code.matchAll(SQL_TEMPLATE)) for (const t of m[1]!.matchAll(RAW_TABLE)) found.add(t[1]!.toLowerCase());
  return new Set([...found].filter((t) => known.has(t)));
}

/** The tables the migrations create: every table there is. */
export function migrationTables(): Set<string> {
  const tables = new Set<string>();
  for (const file of readdirSync(path.join(ROOT, 'src/db/migrations')).filter((f) => f.endsWith('.sql'))) {
    for (const m of read(`src/db/migrations/${file}`).matchAll(/create\s+table\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)/gi)) tables.add(m[1]!.toLowerCase());
  }
  return tables;
}

/** The tables a `*.tables.ts` (or db/schema.ts) adds to Kysely's `DB` interface. */
export function declaredTables(source: string): string[] {
  // Every `interface DB { … }` block of the file (a file may augment DB more than once).
  const bodies = [...source.matchAll(/interface DB \{([^}]*)\}/g)].map((m) => m[1] ?? '');
  return bodies.flatMap((body) => [...body.matchAll(/^\s*([a-z_][a-z0-9_]*)\s*:/gm)].map((m) => m[1]!));
}
