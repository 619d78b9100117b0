// The console's API types are the Node SDK's (packages/node), generated once by `npm run gen:api` from the server's
// /api/openapi.json: the console and the product's backends read the same document through the same types.
export type { components, paths } from '../../../packages/node/src/api-schema';
