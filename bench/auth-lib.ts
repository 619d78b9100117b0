// Shared set-up of the authentication benchmarks: the bench server (bench/servers/auth-server.ts) on a fresh
// database of each engine, and the figures' table.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { benchTempDir, ROOT, spawnServer } from './lib.js';

export type Engine = 'pglite' | 'postgres';

function adminUrl(): string | undefined {
  return process.env.BENCH_DATABASE_URL ?? process.env.TESSERA_TEST_DATABASE_URL;
}

/** PGlite always; PostgreSQL too when BENCH_DATABASE_URL (or TESSERA_TEST_DATABASE_URL) is set; BENCH_ENGINE picks one. */
export function authBenchEngines(): Engine[] {
  const all: Engine[] = adminUrl() ? ['pglite', 'postgres'] : ['pglite'];
  const only = process.env.BENCH_ENGINE as Engine | undefined;
  return only ? all.filter((e) => e === only) : all;
}

export interface AuthServer {
  readonly url: string;
  readonly email: string;
  readonly password: string;
  readonly tenantId: string;
  /** The access token of one live session (reused), its refresh token, and `tokens` distinct tokens of it. */
  readonly accessToken: string;
  readonly tokens: string[];
  readonly databaseUrl?: string;
  /** The server process, for its CPU time (bench/lib.ts `cpuMicros`). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tessera_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl()!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** BENCH_CPU_PROF=<dir>: the server writes a V8 CPU profile there when it stops (open it in Chrome DevTools). */
export function cpuProfileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`] : [];
}

export async function startAuthServer(engine: Engine, tokens = 0, extraEnv: Record<string, string> = {}): Promise<AuthServer> {
  const pgdb = engine === 'postgres' ? await freshPostgres() : undefined;
  const dataDir = benchTempDir();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TESSERA_DATA_DIR: dataDir,
    BENCH_TOKENS: String(tokens),
    TESSERA_DB_POOL_MAX: '10',
    ...extraEnv,
  };
  delete env.DATABASE_URL;
  if (pgdb) env.DATABASE_URL = pgdb.url;
  const child: ChildProcess = spawnServer([...cpuProfileArgs(), '--import', 'tsx', 'bench/servers/auth-server.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const info = await new Promise<{ url: string; email: string; password: string; tenantId: string; tokensFile: string }>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /^BENCH (.+)$/m.exec(out);
      if (m) resolve(JSON.parse(m[1]!) as { url: string; email: string; password: string; tenantId: string; tokensFile: string });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('close', (code) => reject(new Error(`bench server exited with ${code}:\n${out}`)));
  });
  const minted = JSON.parse(readFileSync(info.tokensFile, 'utf8')) as { accessToken: string; tokens: string[] };
  // Read once: gone at once, so a benchmark stopped half-way leaves no token file behind.
  rmSync(info.tokensFile, { force: true });
  return {
    ...info,
    accessToken: minted.accessToken,
    tokens: minted.tokens,
    ...(pgdb ? { databaseUrl: pgdb.url } : {}),
    pid: child.pid,
    async stop() {
      await new Promise<void>((resolve) => {
        child.on('close', () => resolve());
        child.kill('SIGTERM');
      });
      await pgdb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
