import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_MESSAGES } from '../../console/src/errors.js';

/**
 * The sign-in pages and the console show every error as a human message and a next step (console/src/errors.ts).
 * Every code of the sections of docs/errors.md they can meet must have its entry, so a new code documented there
 * without one fails here.
 */
const SECTIONS = ['General', 'Access', 'Users and profile', 'Current password', 'Two-step verification (TOTP)', 'Sign-in and sessions', 'Verified domains', 'Single sign-on', 'Tenants', 'Organizations', 'Audit log', 'Applications', 'OpenID Provider', 'Setup links'];

function codesOf(doc: string, section: string): string[] {
  const start = doc.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`docs/errors.md has no section "${section}"`);
  const end = doc.indexOf('\n## ', start + 1);
  const text = doc.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1]!);
}

describe('the console error messages', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

  it.each(SECTIONS)('cover every code of "%s" in docs/errors.md', (section) => {
    const codes = codesOf(doc, section);
    expect(codes.length).toBeGreaterThan(0);
    expect(codes.filter((code) => !ERROR_MESSAGES[code])).toEqual([]);
  });

  it('say what happened and what to do next', () => {
    for (const [code, { message, next }] of Object.entries(ERROR_MESSAGES)) {
      expect(message.length, code).toBeGreaterThan(5);
      expect(next.length, code).toBeGreaterThan(5);
    }
  });
});
