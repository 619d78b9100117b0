import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DURATION = Number(process.env.BENCH_DURATION ?? 10);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

export interface Server {
  readonly url: string;
  stop(): Promise<void>;
}

function waitForUrl(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('close', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
  });
}

function stopper(child: ChildProcess) {
  return () =>
    new Promise<void>((resolve) => {
      child.on('close', () => resolve());
      child.kill('SIGTERM');
    });
}

/**
 * Spawns a benchmark server with node. With BENCH_SERVER_CPUS (e.g. `1`) the server runs under `taskset -c`,
 * so that pinned to one core, with the load generator pinned to another (`taskset -c 0 npx tsx bench/…`), a
 * figure is the cost per core of the server alone.
 */
export function spawnServer(args: readonly string[], options: SpawnOptions): ChildProcess {
  const cpus = process.env.BENCH_SERVER_CPUS;
  return cpus ? spawn('taskset', ['-c', cpus, process.execPath, ...args], options) : spawn(process.execPath, [...args], options);
}

/** Bare Fastify in its own process: the baseline every figure is compared with. */
export async function startBareFastify(): Promise<Server> {
  const child = spawnServer(['--import', 'tsx', 'bench/servers/bare-fastify.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return { url: await waitForUrl(child, /listening (http:\/\/\S+)/), stop: stopper(child) };
}

/** The real `tessera serve` in its own process, on a fresh embedded database or on `DATABASE_URL`. */
export async function startTessera(env: Record<string, string> = {}): Promise<Server> {
  const child = spawnServer(['--import', 'tsx', 'src/cli/index.ts', 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      TESSERA_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tessera-bench-')),
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { url: await waitForUrl(child, /"url":"(http:\/\/[^"]+)".*"msg":"Tessera is listening"/), stop: stopper(child) };
}

export interface Figure {
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

export async function load(url: string, options: Partial<autocannon.Options> = {}): Promise<Figure> {
  const result = await autocannon({ url, duration: DURATION, connections: CONNECTIONS, ...options });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

export function row(name: string, figure: Figure, baseline?: Figure): string {
  const ratio = baseline ? (figure.requestsPerSecond / baseline.requestsPerSecond).toFixed(2) : '1.00';
  return `| ${name} | ${figure.requestsPerSecond.toLocaleString('en-US')} | ${figure.p50} | ${figure.p99} | ${figure.errors} | ${ratio} |`;
}

export const TABLE_HEAD = '| case | req/s | p50 ms | p99 ms | errors | ratio to baseline |\n| --- | ---: | ---: | ---: | ---: | ---: |';

/**
 * The method (BENCHMARKS.md "Method"): the measuring process re-runs itself under `taskset -c <cpus>`
 * (BENCH_LOAD_CPUS, default `0`; `none` turns pinning off) unless it already is; the server it spawns runs on
 * BENCH_SERVER_CPUS (default `1`). Returns only in the pinned process.
 */
export async function pinSelf(cpus = process.env.BENCH_LOAD_CPUS ?? '0'): Promise<void> {
  process.env.BENCH_SERVER_CPUS ??= '1';
  if (cpus === 'none' || process.env.BENCH_PINNED === cpus) return;
  const child = spawn('taskset', ['-c', cpus, process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, BENCH_PINNED: cpus } });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  process.exit(code);
}

/** Rounds of every case, interleaved (case A, B, C, then again), so drift in the machine's load hits all alike. */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
