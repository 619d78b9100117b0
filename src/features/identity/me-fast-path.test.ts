import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser, loginOverHttp } from '../../../test/support/login.js';
import type { User } from './identity.service.js';

// GET /api/v1/me is served from the request's own session read (DESIGN §3 step 2). Rule proved here: a change
// to the user's record is visible on the very next GET /me of every session of the user — on PostgreSQL
// because every request reads, on the embedded database because every write forgets the state in memory.
describe.each(engines())('GET /api/v1/me from the session read [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t.close());

  const api = <T = unknown>(who: { accessToken: string }, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);
  const me = async (who: LoggedIn) => {
    const res = await api<User>(who, 'GET', '/api/v1/me');
    expect(res.status).toBe(200);
    return res.body;
  };
  /** The profile as a fresh read of the database gives it. */
  const stored = (who: LoggedIn) => t.app.db.tenantWork(who.tenantId, (tx) => t.app.services.identity.getUser(tx, who.tenantId, who.userId));

  it('shows exactly what the database holds', async () => {
    const user = await loginAsPlainUser(t, admin);
    expect(await me(user)).toEqual(await stored(user));
    expect(await me(admin)).toEqual(await stored(admin));
  });

  it('PATCH /me is visible on the very next GET /me, in this session and in the user’s others', async () => {
    const user = await loginAsPlainUser(t, admin);
    const other = await loginOverHttp(t, { email: user.email, password: user.password, tenantId: admin.tenantId });
    const second = { ...user, ...other };
    await me(user);
    await me(second);
    t.clock.advance(1000);
    expect((await api(user, 'PATCH', '/api/v1/me', { name: 'Grace Hopper', phone: '+1 555 0100' })).status).toBe(200);
    for (const who of [user, second]) expect(await me(who)).toMatchObject({ name: 'Grace Hopper', phone: '+1 555 0100' });
    expect(await me(user)).toEqual(await stored(user));
    t.clock.advance(1000);
    expect((await api(second, 'PATCH', '/api/v1/me', { phone: null })).status).toBe(200);
    expect(await me(user)).toMatchObject({ name: 'Grace Hopper', phone: null });
  });

  it('an administrator’s update is visible on the user’s very next GET /me', async () => {
    const user = await loginAsPlainUser(t, admin);
    expect(await me(user)).toMatchObject({ isTenantAdmin: false });
    t.clock.advance(1000);
    expect((await api(admin, 'PATCH', `/api/v1/users/${user.userId}`, { name: 'Renamed By Admin', isTenantAdmin: true })).status).toBe(200);
    expect(await me(user)).toMatchObject({ name: 'Renamed By Admin', isTenantAdmin: true });
    expect(await me(user)).toEqual(await stored(user));
  });

  it('a password change is visible too (updatedAt), and the session that made it keeps answering', async () => {
    const user = await loginAsPlainUser(t, admin);
    const before = await me(user);
    t.clock.advance(60_000);
    expect((await api(user, 'POST', '/api/v1/me/password', { currentPassword: user.password, newPassword: 'amber lantern meadow 9' })).status).toBe(204);
    const after = await me(user);
    expect(after.updatedAt > before.updatedAt).toBe(true);
    expect(after).toEqual(await stored(user));
  });

  it('another tenant’s change to its own user leaves this profile as it was', async () => {
    const other = await loginAsAdmin(t, { tenantName: 'Other' });
    const mine = await me(admin);
    expect((await api(other, 'PATCH', '/api/v1/me', { name: 'Other Admin' })).status).toBe(200);
    expect(await me(admin)).toEqual(mine);
    expect(await me(other)).toMatchObject({ id: other.userId, name: 'Other Admin' });
  });
});
