import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerProcess } from '../support/cli.js';
import { callServer, startTwoInstances, type TwoInstances } from '../support/instances.js';

// DESIGN §3 (the authorization epoch): a change to a role, an assignment or a group membership made on one instance is
// seen by the other on the very next request — the other instance had the user's permissions cached.
// Two real `tessera serve` processes on one PostgreSQL.
const adminUrl = process.env.TESSERA_TEST_DATABASE_URL;

describe.skipIf(!adminUrl)('access changes are fresh on every instance (two processes, one PostgreSQL)', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let instances: TwoInstances;
  const email = 'admin@fresh.example';
  const password = 'fresh instances password';
  const call = callServer;

  async function login(server: ServerProcess, who: { email: string; password: string }): Promise<string> {
    const r = await call(server, 'POST', '/auth/login', { body: who });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.session.accessToken;
  }

  beforeAll(async () => {
    instances = await startTwoInstances(adminUrl!, { email, password });
    ({ a, b } = instances);
  }, 120_000);

  afterAll(() => instances?.stop(), 60_000);

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
