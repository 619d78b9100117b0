// Runs every benchmark in bench/ one after another (each prints its own table). Not part of `npm test`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { ROOT } from './lib.js';

const only = process.argv[2];
for (const file of readdirSync(new URL('./', import.meta.url)).filter((f) => f.endsWith('.bench.ts')).sort()) {
  if (only && !file.includes(only)) continue;
  console.log(`\n### ${file}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${file}`], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) process.exitCode = 1;
}
