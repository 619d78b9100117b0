import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../src/app.js';
import { errorCatalog } from '../src/kernel/app-error.js';

// Every code the server can raise is declared with defineErrors(); importing the composition root loads
// them all. docs/errors.md must document each one (as `code` in a table row).
describe('error catalog', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/^\|\s*`([^`]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => `${m[1]}:${m[2]}`));

  it('documents every error code with its HTTP status', () => {
    const missing = [...errorCatalog()].filter(([code, spec]) => !documented.has(`${code}:${spec.status}`)).map(([code, spec]) => `${code} (${spec.status})`);
    expect(missing).toEqual([]);
  });

  it('documents no code the server does not have', () => {
    const known = new Set([...errorCatalog()].map(([code, spec]) => `${code}:${spec.status}`));
    expect([...documented].filter((c) => !known.has(c))).toEqual([]);
  });
});
