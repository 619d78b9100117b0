import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Compiles `src/` into `<outRoot>/src/` and returns the path of the `tessera` entry point there, for the suites that
 * spawn the real command (test/support/cli.ts).
 *
 * Why: running the command through `node --import tsx src/cli/index.ts` compiled the whole CLI again in every
 * spawned process, about 2.6 s of CPU per spawn against 1.0 s for the compiled files (measured on `--version`), and
 * the CLI suites spawn it hundreds of times per run.
 *
 * Never stale by construction: global-setup.ts calls this at the start of every test run (and before every
 * re-run in watch mode) into that run's own temporary directory, which the run removes at its end; no build
 * outlives the run that made it. esbuild is the compiler tsx itself uses, with the same tsconfig.json and the
 * running Node as the target, so the code that runs is the code tsx ran, only compiled once. Files are compiled
 * one to one (no bundling), so every `import.meta.url`-relative path in src resolves as it does from src:
 * `<outRoot>/package.json` (the version, `"type": "module"`), `<outRoot>/node_modules` and `<outRoot>/dist` (the
 * built console, when there is one) are links to the repository's, and every file in src that is not TypeScript
 * (the SQL migrations) is copied beside the compiled code.
 */
export async function buildCli(outRoot: string): Promise<string> {
  const src = path.join(ROOT, 'src');
  rmSync(outRoot, { recursive: true, force: true });
  mkdirSync(outRoot, { recursive: true });
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' });
  const isCode = (file: string) => file.endsWith('.ts');
  const entryPoints = files.filter((file) => isCode(file) && !file.endsWith('.test.ts')).map((file) => path.join(src, file));
  await build({
    entryPoints,
    outbase: src,
    outdir: path.join(outRoot, 'src'),
    tsconfig: path.join(ROOT, 'tsconfig.json'),
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    // Stack traces a failing command prints name the TypeScript lines (the child runs with --enable-source-maps).
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  cpSync(src, path.join(outRoot, 'src'), { recursive: true, filter: (from) => !isCode(from) });
  cpSync(path.join(ROOT, 'package.json'), path.join(outRoot, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(outRoot, 'node_modules'), 'dir');
  symlinkSync(path.join(ROOT, 'dist'), path.join(outRoot, 'dist'), 'dir');
  return path.join(outRoot, 'src', 'cli', 'index.js');
}
