import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startCliServer } from '../support/cli.js';
import { seedEmbeddedDataDir } from '../support/databases.js';
import { requestJson } from '../support/http.js';

/**
 * Crash safety of the embedded database: `tessera serve` killed with SIGKILL in the middle of writes (no
 * shutdown hook runs), then started again on the same data directory. Every write the server acknowledged
 * is there; nothing is half-done (each user created has its audit event, in the same transaction); the
 * audit chain verifies.
 */
describe('kill -9 of serve during writes on the embedded database', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-crash-'));
  const email = 'admin@crash.example';
  const password = 'crash recovery password 42';
  const env = { TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: randomBytes(32).toString('base64'), TESSERA_ADMIN_EMAIL: email, TESSERA_ADMIN_PASSWORD: password, LOG_LEVEL: 'info' };
  const started: ServerProcess[] = [];

  afterAll(async () => {
    for (const server of started) if (server.child.exitCode === null && server.child.signalCode === null) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function start(): Promise<ServerProcess> {
    const server = await startCliServer(env, 90_000);
    started.push(server);
    return server;
  }

  async function login(server: ServerProcess): Promise<string> {
    const res = await requestJson<{ session: { accessToken: string } }>(server.url, 'POST', '/auth/login', { body: { email, password } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.session.accessToken;
  }

  it('every acknowledged write survives, nothing is partial, and the audit chain verifies', async () => {
    // Initialised by PGlite already (databases.ts): the first start migrates and bootstraps it, without initdb.
    await seedEmbeddedDataDir(dir);
    const first = await start();
    const token = await login(first);

    // Four writers create users until the server dies under them; a 201 is an acknowledged write.
    const acknowledged: string[] = [];
    let next = 0;
    let dead = false;
    const writer = async () => {
      while (!dead) {
        const userEmail = `crash-${next++}@crash.example`;
        try {
          const res = await requestJson(first.url, 'POST', '/api/v1/users', { token, body: { email: userEmail, name: 'Crash Test' } });
          if (res.status === 201) acknowledged.push(userEmail);
          else if (!dead) throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body)}`);
        } catch (error) {
          if (!dead) throw error;
        }
      }
    };
    const exited = new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
    const writers = [writer(), writer(), writer(), writer()];
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 20));
    // SIGKILL by the child's PID while requests are in flight; from here a failed request is expected.
    dead = true;
    process.kill(first.child.pid!, 'SIGKILL');
    await exited;
    await Promise.all(writers);
    expect(first.child.signalCode).toBe('SIGKILL');

    const second = await start();
    const again = await login(second);
    const users = await requestJson<{ items: { id: string; email: string }[]; total: number }>(second.url, 'GET', '/api/v1/users?limit=200', { token: again });
    expect(users.status).toBe(200);
    expect(users.body.total).toBeLessThanOrEqual(200);
    const present = new Map(users.body.items.map((u) => [u.email.toLowerCase(), u.id]));
    expect(acknowledged.filter((e) => !present.has(e))).toEqual([]);

    // No partial state: every user that exists has its user.created event, and no event names a missing user.
    const events = await requestJson<{ events: { target: { id: string } | null }[] }>(second.url, 'GET', '/api/v1/audit/events?action=user.created&limit=500', { token: again });
    expect(events.status).toBe(200);
    const audited = new Set(events.body.events.map((e) => e.target?.id));
    expect([...present.values()].filter((id) => !audited.has(id))).toEqual([]);
    const ids = new Set(present.values());
    expect([...audited].filter((id) => id !== undefined && !ids.has(id))).toEqual([]);

    const verify = await requestJson<{ ok: boolean; break: unknown }>(second.url, 'GET', '/api/v1/audit/verify', { token: again });
    expect(verify.body).toMatchObject({ ok: true, break: null });
    expect(await second.stop()).toBe(0);
  }, 240_000);
});
