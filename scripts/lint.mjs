// `npm run lint`: ESLint over the repository, with a cache that can only ever be reused for the very same inputs.
//
// Why not plain `eslint --cache`: its cache is per file, keyed by that file's content, but the type-aware rules
// (typescript-eslint's recommendedTypeChecked) read the types of the files it imports. Change a function in a.ts to
// return `any` and the unchanged b.ts that assigns its result now breaks `no-unsafe-assignment`, yet plain --cache
// answers b.ts from the cache, clean. So the cache here lives in a file named by a fingerprint of every input: each
// file git sees in the work tree (tracked or not, ignored ones aside) by path and content, and the installed packages
// (npm's node_modules/.package-lock.json). Any change anywhere starts from an empty cache, a full lint; only a second
// lint of identical inputs (CI's second Node version, a re-run) is answered from the first one's work.
// Without git (a source tarball) it lints without a cache.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CACHE_DIR = path.join(ROOT, 'node_modules/.cache/tessera/eslint');
const KEEP = 10;

function fingerprint() {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (listed.status !== 0) return undefined;
  const hash = createHash('sha256');
  const files = [...new Set(listed.stdout.split('\0').filter(Boolean))].sort();
  for (const file of [...files, 'node_modules/.package-lock.json']) {
    const full = path.join(ROOT, file);
    // A file deleted but not yet staged is still listed by git: its absence is part of the fingerprint.
    hash.update(`${file}\0${existsSync(full) ? createHash('sha256').update(readFileSync(full)).digest('hex') : '-'}\0`);
  }
  return hash.digest('hex').slice(0, 32);
}

const key = fingerprint();
const args = ['.'];
if (key) {
  mkdirSync(CACHE_DIR, { recursive: true });
  args.push('--cache', '--cache-strategy', 'content', '--cache-location', path.join(CACHE_DIR, key));
  // Keeps the newest caches only; each holds one set of inputs.
  const old = readdirSync(CACHE_DIR)
    .filter((name) => name !== key)
    .map((name) => ({ name, at: statSync(path.join(CACHE_DIR, name)).mtimeMs }))
    .sort((a, b) => b.at - a.at)
    .slice(KEEP - 1);
  for (const { name } of old) rmSync(path.join(CACHE_DIR, name), { force: true });
}
const eslint = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), ...args, ...process.argv.slice(2)], { cwd: ROOT, stdio: 'inherit' });
process.exit(eslint.status ?? 1);
