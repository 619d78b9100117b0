// `npm test`'s checks before the suites: `npm run typecheck`, `npm run lint` and `npm run lint:deps`, side by side.
//
// Why not one after the other: each is a single-threaded process (tsc, ESLint, dependency-cruiser), so in sequence one
// core works while the other waits. Measured from a fresh install on the 2-core machine: type-check 43 s of CPU, lint
// 72 s, lint:deps 3 s — 118 s in sequence; side by side, on an otherwise idle 2-core CI machine, the lint's 72 s is the
// expected bound (an estimate: on a machine whose cores are already busy, side by side gains nothing, 114 s against
// 119 s measured with both cores taken by other work).
//
// Each check's output is held and printed whole when it ends (in the order above), so the three never interleave; the
// exit code is the first failing check's, as `a && b && c` gave, but every check runs to its end, so one run reports
// every failure. A signal to this script (Ctrl-C) reaches the checks too: they are in its process group.
import { spawn } from 'node:child_process';

const CHECKS = ['typecheck', 'lint', 'lint:deps'];
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];

function run(script) {
  return new Promise((resolve) => {
    const child = spawn(npm[0], [...npm.slice(1), 'run', '--silent', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.on('error', (error) => resolve({ script, code: 1, output: [Buffer.from(`${error.message}\n`)] }));
    child.on('close', (code, signal) => resolve({ script, code: code ?? (signal ? 1 : 0), output }));
  });
}

const started = Date.now();
const results = CHECKS.map((script) => run(script));
let failed = 0;
for (const pending of results) {
  const { script, code, output } = await pending;
  process.stdout.write(`> npm run ${script}${code === 0 ? '' : ` (failed, exit code ${code})`}\n`);
  for (const chunk of output) process.stdout.write(chunk);
  if (code !== 0 && failed === 0) failed = code;
}
process.stdout.write(`checks: ${CHECKS.join(', ')} ${failed ? 'failed' : 'passed'} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(failed);
