import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, generateApiTypes } from '../../scripts/gen-api.js';

// The console and the Node SDK (packages/node) talk to the API through one set of types generated from
// /api/openapi.json (openapi-typescript), the SDK's, which the console imports. A change of the API must reach those types, so that their type-check (npm run typecheck)
// breaks instead of their users.
describe('the generated API types', () => {
  it('are what the current server generates (run `npm run gen:api` after changing the API)', async () => {
    const generated = await generateApiTypes();
    expect(readFileSync(API_TYPES_FILE, 'utf8') === generated, 'packages/node/src/api-schema.ts is stale: run `npm run gen:api` and commit it').toBe(true);
  }, 60_000);
});
