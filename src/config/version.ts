import { readFileSync } from 'node:fs';

/** The package version (src/config and dist/config are both two levels below package.json). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
