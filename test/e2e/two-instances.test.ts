import { hash } from '@node-rs/argon2';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGON2_OPTIONS } from '../../src/crypto/password.js';
import { newId } from '../../src/kernel/ids.js';
import type { ServerProcess } from '../support/cli.js';
import { callServer, startTwoInstances, type TwoInstances } from '../support/instances.js';

// DESIGN §3 and §7: two real server processes on one PostgreSQL. A revocation, a de-provisioning or a
// logout on one instance is seen by the other on the very next request: no cache stands in the way.
const adminUrl = process.env.TESSERA_TEST_DATABASE_URL;

describe.skipIf(!adminUrl)('two instances on one PostgreSQL', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let owner: pg.Client;
  let instances: TwoInstances;
  const email = 'admin@two.example';
  const password = 'two instances password';
  const call = callServer;

  async function login(server: ServerProcess, who: { email: string; password: string }) {
    const r = await call(server, 'POST', '/auth/login', { body: who });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return { accessToken: r.body.session.accessToken, cookie: r.cookie!, userId: r.body.userId, tenantId: r.body.tenantId };
  }

  async function newUser(tenantId: string, userEmail: string, userPassword: string): Promise<string> {
    const id = newId();
    await owner.query('insert into users (tenant_id, id, email, password_hash) values ($1, $2, $3, $4)', [tenantId, id, userEmail, await hash(userPassword, ARGON2_OPTIONS)]);
    const { rows } = await owner.query<{ account_id: string; id: string }>("select account_id, id from roles where system_key = 'account_admin' limit 1");
    await owner.query('insert into role_assignments (tenant_id, id, account_id, role_id, user_id) values ($1, $2, $3, $4, $5)', [tenantId, newId(), rows[0]!.account_id, rows[0]!.id, id]);
    return id;
  }

  beforeAll(async () => {
    instances = await startTwoInstances(adminUrl!, { email, password });
    ({ a, b, owner } = instances);
  }, 120_000);

  afterAll(() => instances?.stop(), 60_000);

  it('a session created on A works on B; logout on A is refused on B at once', async () => {
    const s = await login(a, { email, password });
    expect((await call(b, 'GET', '/api/v1/me/sessions', { token: s.accessToken })).status).toBe(200);
    expect((await call(a, 'POST', '/auth/logout', { token: s.accessToken })).status).toBe(204);
    const onB = await call(b, 'GET', '/api/v1/me/sessions', { token: s.accessToken });
    expect(onB.status).toBe(401);
    expect(onB.body.error.code).toBe('invalid_token');
    expect((await call(b, 'POST', '/auth/refresh', { cookie: s.cookie })).status).toBe(401);
  });

  it('refresh rotates across instances; a reuse on B ends the session on A', async () => {
    const s = await login(a, { email, password });
    const rotated = await call(b, 'POST', '/auth/refresh', { cookie: s.cookie });
    expect(rotated.status).toBe(200);
    expect((await call(a, 'GET', '/api/v1/me/sessions', { token: rotated.body.accessToken })).status).toBe(200);
    // Outside the grace window (1 s for these instances) the old token is a reuse: wait it out on the real clock.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await call(b, 'POST', '/auth/refresh', { cookie: s.cookie })).body.error.code).toBe('sessions.refresh_token_invalid');
    expect((await call(a, 'GET', '/api/v1/me/sessions', { token: rotated.body.accessToken })).status).toBe(401);
  }, 30_000);

  it('an administrator revoking a user’s sessions on B is seen on A at once', async () => {
    const admin = await login(a, { email, password });
    const userId = await newUser(admin.tenantId, 'revoked@two.example', 'revoked user password');
    const user = await login(a, { email: 'revoked@two.example', password: 'revoked user password' });
    expect((await call(a, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(200);
    const revoked = await call(b, 'DELETE', `/api/v1/users/${userId}/sessions`, { token: admin.accessToken });
    expect(revoked.body).toEqual({ revoked: 1 });
    expect((await call(a, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(401);
  });

  it('a deactivated user is refused on both instances on the next request', async () => {
    const admin = await login(a, { email, password });
    const userId = await newUser(admin.tenantId, 'gone@two.example', 'deactivated user password');
    const user = await login(b, { email: 'gone@two.example', password: 'deactivated user password' });
    expect((await call(a, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(200);
    expect((await call(b, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(200);
    // Any path that deactivates (user management, SCIM) flips this flag; the per-request read returns it.
    await owner.query('update users set active = false where id = $1', [userId]);
    for (const server of [a, b]) expect((await call(server, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(401);
    expect((await call(a, 'POST', '/auth/login', { body: { email: 'gone@two.example', password: 'deactivated user password' } })).body.error.code).toBe('sessions.invalid_credentials');
  });
});
