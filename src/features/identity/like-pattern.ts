/** A `LIKE`/`ILIKE` pattern matching `q` anywhere, with `\`, `%` and `_` taken literally (PostgreSQL's default escape). */
export function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
