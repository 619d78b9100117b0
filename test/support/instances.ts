import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type ServerProcess, startCliServer } from './cli.js';
import { type RequestOptions, requestJson } from './http.js';
import { refreshCookieOf } from './login.js';
import type { AnswerBody } from './sessions-http.js';

/** Two real `tessera serve` processes on one fresh PostgreSQL database (DESIGN §7, the multi-instance suite). */
export interface TwoInstances {
  readonly a: ServerProcess;
  readonly b: ServerProcess;
  /** A connection as the database owner, to arrange or inspect state behind the servers' backs. */
  readonly owner: pg.Client;
  stop(): Promise<void>;
}

export async function startTwoInstances(adminUrl: string, admin: { email: string; password: string }): Promise<TwoInstances> {
  const dbName = `tessera_two_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`create database ${dbName}`);
  await client.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const env = {
    DATABASE_URL: url.toString(),
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
    // Both instances sit behind one public address: the same token issuer.
    PUBLIC_URL: 'http://localhost:3999',
    TESSERA_ADMIN_EMAIL: admin.email,
    TESSERA_ADMIN_PASSWORD: admin.password,
    LOG_LEVEL: 'info',
    // Separate processes cannot share a fixed clock: a 1 s grace window lets a reuse test wait 1 s, not 10.
    TESSERA_REFRESH_GRACE_SECONDS: '1',
  };
  let a: ServerProcess | undefined;
  let b: ServerProcess | undefined;
  let owner: pg.Client | undefined;
  const stop = async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await owner?.end().catch(() => {});
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`drop database if exists ${dbName} with (force)`);
    await c.end();
  };
  try {
    // One after the other: the first migrates and bootstraps, the second finds it done.
    a = await startCliServer(env);
    b = await startCliServer(env);
    owner = new pg.Client({ connectionString: url.toString() });
    await owner.connect();
  } catch (error) {
    // The suite never gets a handle to stop: stop what started and drop the database here.
    await stop();
    throw error;
  }
  return { a, b, owner, stop };
}

/** One JSON request to a server process; returns the status, the parsed body and the refresh cookie if set. */
export async function callServer<T = AnswerBody>(server: ServerProcess, method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T; cookie: string | undefined }> {
  const { status, body, response } = await requestJson<T>(server.url, method, path, options);
  return { status, body, cookie: refreshCookieOf(response) };
}
