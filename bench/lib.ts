import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DURATION = Number(process.env.BENCH_DURATION ?? 10);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

export interface Server {
  readonly url: string;
  /** The server process (taskset execs node, so it is node's pid): its CPU time is read from /proc. */
  readonly pid?: number | undefined;
  stop(): Promise<void>;
}

/**
 * The per-core method (BENCHMARKS.md, "Method"): the server on one core, the load generator (this process and
 * autocannon, which runs in it) on the other. Called by the benchmarks that follow it; BENCH_PIN=0 turns it off
 * (then BENCH_SERVER_CPUS alone decides, as before). Returns a description for the header line.
 */
export function pinForPerCore(): string {
  if (process.env.BENCH_PIN === '0') return `not pinned (BENCH_PIN=0)${process.env.BENCH_SERVER_CPUS ? `, server on CPU ${process.env.BENCH_SERVER_CPUS}` : ''}`;
  if (availableParallelism() < 2) return 'not pinned (one core)';
  process.env.BENCH_SERVER_CPUS ??= '1';
  const loadCpus = process.env.BENCH_LOAD_CPUS ?? '0';
  // -a: every thread of this process (autocannon's sockets, libuv's pool).
  execFileSync('taskset', ['-a', '-p', '-c', loadCpus, String(process.pid)], { stdio: 'ignore' });
  return `server on CPU ${process.env.BENCH_SERVER_CPUS}, load generator on CPU ${loadCpus}`;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system, every thread) a process has used so far, in microseconds (proc(5): utime, stime). */
export function cpuMicros(pid: number): number {
  return statCpuMicros(`/proc/${pid}/stat`);
}

/** The same for one thread of it: its main thread (the event loop) has the process's id as its thread id. */
export function mainThreadCpuMicros(pid: number): number {
  return statCpuMicros(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuMicros(file: string): number {
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
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

const tempDirs = new Set<string>();
/**
 * A temporary directory for one benchmark's data, removed when its benchmark stops it and, at the latest, when this
 * process exits — also on Ctrl-C or SIGTERM (a benchmark stopped half-way used to leave its `tessera-bench-*` behind).
 */
export function benchTempDir(): string {
  if (tempDirs.size === 0) {
    process.once('exit', () => {
      for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-bench-'));
  tempDirs.add(dir);
  return dir;
}

/** Bare Fastify in its own process: the baseline every figure is compared with. */
export async function startBareFastify(): Promise<Server> {
  const child = spawnServer(['--import', 'tsx', 'bench/servers/bare-fastify.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return { url: await waitForUrl(child, /listening (http:\/\/\S+)/), pid: child.pid, stop: stopper(child) };
}

/** The real `tessera serve` in its own process, on a fresh embedded database or on `DATABASE_URL`. */
export async function startTessera(env: Record<string, string> = {}): Promise<Server> {
  const dataDir = benchTempDir();
  const child = spawnServer(['--import', 'tsx', 'src/cli/index.ts', 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      TESSERA_DATA_DIR: dataDir,
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = stopper(child);
  // The embedded database's directory goes with the server (a run leaves nothing in the temp dir).
  const stopAndRemove = async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    return { url: await waitForUrl(child, /"url":"(http:\/\/[^"]+)".*"msg":"Tessera is listening"/), pid: child.pid, stop: stopAndRemove };
  } catch (error) {
    await stopAndRemove();
    throw error;
  }
}

export interface Figure {
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** With `serverPid`: the server's CPU use during the case, % of one core, and its CPU time per request served. */
  readonly cpuPercent?: number | undefined;
  readonly cpuMicrosPerRequest?: number | undefined;
}

export async function load(url: string, options: Partial<autocannon.Options> & { serverPid?: number | undefined } = {}): Promise<Figure> {
  const { serverPid, ...rest } = options;
  const cpuBefore = serverPid ? cpuMicros(serverPid) : 0;
  const started = process.hrtime.bigint();
  const result = await autocannon({ url, duration: DURATION, connections: CONNECTIONS, ...rest });
  const elapsedMicros = Number(process.hrtime.bigint() - started) / 1000;
  const cpu = serverPid ? cpuMicros(serverPid) - cpuBefore : undefined;
  const served = result.requests.total;
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
    cpuPercent: cpu === undefined ? undefined : Math.round((cpu / elapsedMicros) * 100),
    cpuMicrosPerRequest: cpu === undefined || served === 0 ? undefined : Math.round(cpu / served),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** The median of each field over rounds (each field on its own: a case's figures need not come from one round). */
export function medianFigure(rounds: readonly Figure[]): Figure {
  const of = (pick: (f: Figure) => number | undefined) => {
    const values = rounds.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? median(values) : undefined;
  };
  return {
    requestsPerSecond: of((f) => f.requestsPerSecond)!,
    p50: of((f) => f.p50)!,
    p99: of((f) => f.p99)!,
    errors: rounds.reduce((sum, f) => sum + f.errors, 0),
    cpuPercent: of((f) => f.cpuPercent),
    cpuMicrosPerRequest: of((f) => f.cpuMicrosPerRequest),
  };
}

/** The per-core table: like `row`, plus the server's CPU % and CPU µs per request, and each round's req/s. */
export function perCoreRow(name: string, figure: Figure, rounds: readonly Figure[], baseline?: Figure): string {
  const ratio = baseline ? (figure.requestsPerSecond / baseline.requestsPerSecond).toFixed(2) : '1.00';
  const each = rounds.map((r) => r.requestsPerSecond.toLocaleString('en-US')).join(' / ');
  return `| ${name} | ${figure.requestsPerSecond.toLocaleString('en-US')} | ${ratio} | ${figure.cpuPercent ?? '—'} | ${figure.cpuMicrosPerRequest ?? '—'} | ${figure.p50} | ${figure.p99} | ${figure.errors} | ${each} |`;
}

export const PER_CORE_HEAD =
  '| case | req/s (median) | ratio to bare Fastify | server CPU % | server CPU µs/request | p50 ms | p99 ms | errors | req/s per round |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |';

export function row(name: string, figure: Figure, baseline?: Figure): string {
  const ratio = baseline ? (figure.requestsPerSecond / baseline.requestsPerSecond).toFixed(2) : '1.00';
  return `| ${name} | ${figure.requestsPerSecond.toLocaleString('en-US')} | ${figure.p50} | ${figure.p99} | ${figure.errors} | ${ratio} |`;
}

export const TABLE_HEAD = '| case | req/s | p50 ms | p99 ms | errors | ratio to baseline |\n| --- | ---: | ---: | ---: | ---: | ---: |';

/**
 * The issue's method (BENCHMARKS.md "Method"): the measuring process re-runs itself under `taskset -c <cpus>`
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

