import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, generateApiTypes } from '../../scripts/gen-api.js';

// The console talks to the API through types generated from /api/openapi.json (openapi-typescript). A change of
// the API must reach those types, so that the console's type-check (npm run typecheck) breaks instead of its users.
describe('the console API types', () => {
  it('are what the current server generates (run `npm run gen:api` after changing the API)', async () => {
    const committed = readFileSync(API_TYPES_FILE, 'utf8');
    expect(committed === (await generateApiTypes()), 'console/src/api/schema.d.ts is stale: run `npm run gen:api` and commit it').toBe(true);
  }, 60_000);
});
