import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startCliServer } from '../support/cli.js';

// Issue 4 and DESIGN §3: a change to a role, an assignment or a group membership made on one instance is
// seen by the other on the very next request — the other instance had the user's permissions cached.
// Two real `tessera serve` processes on one PostgreSQL.
const adminUrl = process.env.TESSERA_TEST_DATABASE_URL;

describe.skipIf(!adminUrl)('access changes are fresh on every instance (two processes, one PostgreSQL)', () => {
  const dbName = `tessera_fresh_${randomBytes(5).toString('hex')}`;
  let a: ServerProcess;
  let b: ServerProcess;
  let owner: pg.Client;
  const email = 'admin@fresh.example';
  const password = 'fresh instances password';

  async function call(server: ServerProcess, method: string, path: string, options: { body?: unknown; token?: string } = {}) {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const response = await fetch(`${server.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await response.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads whatever JSON came back
    return { status: response.status, body: (text ? JSON.parse(text) : null) as any };
  }

  async function login(server: ServerProcess, who: { email: string; password: string }): Promise<string> {
    const r = await call(server, 'POST', '/auth/login', { body: who });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.session.accessToken as string;
  }

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const url = new URL(adminUrl!);
    url.pathname = `/${dbName}`;
    const env = {
      DATABASE_URL: url.toString(),
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      PUBLIC_URL: 'http://localhost:3998',
      TESSERA_ADMIN_EMAIL: email,
      TESSERA_ADMIN_PASSWORD: password,
      LOG_LEVEL: 'info',
    };
    a = await startCliServer(env);
    b = await startCliServer(env);
    owner = new pg.Client({ connectionString: url.toString() });
    await owner.connect();
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await owner?.end().catch(() => {});
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }, 60_000);

  it('role edits, assignment removal and group membership changes on A apply to the next request on B', async () => {
    const adminToken = await login(a, { email, password });
    const asAdmin = (method: string, path: string, body?: unknown) => call(a, method, path, { token: adminToken, body });
    const userEmail = 'member@fresh.example';
    const userPassword = 'member fresh password';
    const user = await asAdmin('POST', '/api/v1/users', { email: userEmail, password: userPassword });
    expect(user.status).toBe(201);
    const role = await asAdmin('POST', '/api/v1/roles', { name: 'Auditors', permissions: ['audit.view'] });
    const assignment = await asAdmin('POST', '/api/v1/assignments', { roleId: role.body.id, userId: user.body.id });
    expect(assignment.status).toBe(201);
    const token = await login(b, { email: userEmail, password: userPassword });
    const onB = (path: string) => call(b, 'GET', path, { token });

    // B caches the user's permissions, then A edits the role.
    expect((await onB('/api/v1/audit/events')).status).toBe(200);
    expect((await onB('/api/v1/audit/events')).status).toBe(200);
    expect((await asAdmin('PATCH', `/api/v1/roles/${role.body.id}`, { permissions: [] })).status).toBe(200);
    expect((await onB('/api/v1/audit/events')).status).toBe(403);
    expect((await asAdmin('PATCH', `/api/v1/roles/${role.body.id}`, { permissions: ['audit.view'] })).status).toBe(200);
    expect((await onB('/api/v1/audit/events')).status).toBe(200);

    // Group membership.
    const group = await asAdmin('POST', '/api/v1/groups', { name: 'Viewers' });
    const viewers = await asAdmin('POST', '/api/v1/roles', { name: 'Viewers', permissions: ['idp.view'] });
    await asAdmin('POST', '/api/v1/assignments', { roleId: viewers.body.id, groupId: group.body.id });
    expect((await onB('/api/v1/groups')).status).toBe(403);
    expect((await asAdmin('PUT', `/api/v1/groups/${group.body.id}/members/${user.body.id}`)).status).toBe(204);
    expect((await onB('/api/v1/groups')).status).toBe(200);
    expect((await asAdmin('DELETE', `/api/v1/groups/${group.body.id}/members/${user.body.id}`)).status).toBe(204);
    expect((await onB('/api/v1/groups')).status).toBe(403);

    // Assignment removal.
    expect((await asAdmin('DELETE', `/api/v1/assignments/${assignment.body.id}`)).status).toBe(204);
    expect((await onB('/api/v1/audit/events')).status).toBe(403);
  });
});
