import { pgliteDump } from './databases.js';

/** Builds the cached PGlite data-directory dumps once, before the test processes start. */
export default async function setup(): Promise<void> {
  await pgliteDump(true);
  await pgliteDump(false);
}
