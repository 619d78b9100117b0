import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, generateApiTypes, SDK_API_TYPES_FILE } from '../../scripts/gen-api.js';

// The console and the Node SDK (packages/node) talk to the API through types generated from /api/openapi.json
// (openapi-typescript). A change of the API must reach those types, so that their type-check (npm run typecheck)
// breaks instead of their users.
describe('the generated API types', () => {
  it('of the console and of the SDK are what the current server generates (run `npm run gen:api` after changing the API)', async () => {
    const generated = await generateApiTypes();
    expect(readFileSync(API_TYPES_FILE, 'utf8') === generated.console, 'console/src/api/schema.d.ts is stale: run `npm run gen:api` and commit it').toBe(true);
    expect(readFileSync(SDK_API_TYPES_FILE, 'utf8') === generated.sdk, 'packages/node/src/api-schema.ts is stale: run `npm run gen:api` and commit it').toBe(true);
  }, 60_000);
});
