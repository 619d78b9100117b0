import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { loginAsAdmin, loginAsPlainUser, loginOverHttp, type LoggedIn } from '../../../test/support/login.js';
import { auditActions, call } from '../../../test/support/sessions-http.js';
import { match } from '../../../test/support/matchers.js';

// Sessions (DESIGN §2 "Session"): refresh rotation with a grace window and reuse detection, cookies, logout,
// the user's session list, and revocation that applies to the very next request.
describe.each(engines())('sessions [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t.close());

  it('sets the refresh token as an HttpOnly, SameSite=Lax cookie on Path=/auth (Secure dropped only for http://localhost)', async () => {
    const r = await call(t, 'POST', '/auth/login', { body: { email: admin.email, password: admin.password } });
    const cookie = r.response.headers.getSetCookie().find((c) => c.startsWith('tessera_refresh='))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\/auth(;|$)/);
    expect(cookie).toMatch(/; Expires=/);
    expect(t.config.publicUrl).toMatch(/^http:\/\/localhost/);
    expect(cookie).not.toMatch(/; Secure/);
    expect(r.response.headers.get('cache-control')).toBe('no-store');
  });

  it('marks the cookie Secure when the server is not reached at http://localhost', async () => {
    const tls = await startTestApp(engine, { env: { PUBLIC_URL: 'https://id.example.com' } });
    try {
      const who = await tls.app.services.bootstrap.bootstrap({ tenantName: 'T', accountName: 'A', email: 'tls@example.com', password: 'tls password 42' });
      const r = await call(tls, 'POST', '/auth/login', { body: { email: 'tls@example.com', password: 'tls password 42', tenantId: who.tenantId } });
      expect(r.response.headers.getSetCookie().find((c) => c.startsWith('tessera_refresh='))).toMatch(/; Secure/);
    } finally {
      await tls.close();
    }
  });

  it('refresh rotates: a new access token and a new refresh token; the old access token keeps working until it expires', async () => {
    const me = await loginAsPlainUser(t, admin);
    const r = await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tokenType: 'Bearer', accountId: admin.accountId, sessionId: match.anyString() });
    expect(r.refreshCookie).toBeDefined();
    expect(r.refreshCookie).not.toBe(me.refreshCookie);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: r.body.accessToken })).status).toBe(200);
    const next = await call(t, 'POST', '/auth/refresh', { cookie: r.refreshCookie });
    expect(next.status).toBe(200);
  });

  // PGlite runs one transaction at a time, so the race exists only on PostgreSQL; the grace window itself is
  // tested on both engines, to the second, in refresh-grace.test.ts.
  it.runIf(engine === 'postgres')('two tabs refreshing at once both get the same successor (grace window; PostgreSQL)', async () => {
    const me = await loginAsPlainUser(t, admin);
    const [a, b] = await Promise.all([call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie }), call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie })]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.refreshCookie).toBe(b.refreshCookie);
    t.clock.advance(5_000);
    const c = await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie });
    expect(c.status).toBe(200);
    expect(c.refreshCookie).toBe(a.refreshCookie);
    expect((await call(t, 'POST', '/auth/refresh', { cookie: a.refreshCookie })).status).toBe(200);
  });

  it('each successor lives as long as the first refresh token of its session did, never past the session end', async () => {
    const me = await loginAsPlainUser(t, admin);
    const owner = t.database.db.kysely;
    const tokensOf = (sessionId: string) =>
      owner.selectFrom('refresh_tokens').select(['created_at', 'expires_at']).where('tenant_id', '=', admin.tenantId).where('session_id', '=', sessionId).orderBy('created_at').execute();
    t.clock.advance(3600_000);
    const r = await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie });
    expect(r.status).toBe(200);
    const [first, second] = await tokensOf(r.body.sessionId);
    expect(second!.created_at.getTime()).toBe(t.clock.now().getTime());
    expect(second!.expires_at.getTime() - second!.created_at.getTime()).toBe(first!.expires_at.getTime() - first!.created_at.getTime());
    // The session ends sooner than a full lifetime from now: the next successor ends with it.
    const sessionEnd = new Date(t.clock.now().getTime() + 60_000 + 1800_000);
    await owner.updateTable('sessions').set({ expires_at: sessionEnd }).where('tenant_id', '=', admin.tenantId).where('id', '=', r.body.sessionId).execute();
    t.clock.advance(60_000);
    const again = await call(t, 'POST', '/auth/refresh', { cookie: r.refreshCookie });
    expect(again.status).toBe(200);
    expect((await tokensOf(r.body.sessionId))[2]!.expires_at.getTime()).toBe(sessionEnd.getTime());
  });

  // RFC 9700 §4.14.2 rotation under real concurrency: the token row's lock makes parallel rotations of one token
  // queue, so exactly one successor is made; the others find the token spent within the grace window and get that
  // same successor (none is refused, none revokes the session).
  it.runIf(engine === 'postgres')('parallel refreshes of one token make exactly one successor, which every one of them gets (PostgreSQL)', async () => {
    const me = await loginAsPlainUser(t, admin);
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(answers.map((a) => a.refreshCookie)).size).toBe(1);
    const sessionId = answers[0]!.body.sessionId;
    const tokens = await t.database.db.kysely.selectFrom('refresh_tokens').select(['rotated_at']).where('tenant_id', '=', admin.tenantId).where('session_id', '=', sessionId).execute();
    expect(tokens.length).toBe(2);
    expect(tokens.filter((r) => r.rotated_at === null).length).toBe(1);
    expect((await call(t, 'POST', '/auth/refresh', { cookie: answers[0]!.refreshCookie })).status).toBe(200);
  });

  it('a refresh token used twice outside the grace window revokes the session everywhere and records a security event', async () => {
    const me = await loginAsPlainUser(t, admin);
    const first = await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie });
    expect(first.status).toBe(200);
    t.clock.advance(11_000);
    const reuse = await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('sessions.refresh_token_invalid');
    // The refusal clears the cookie.
    expect(reuse.response.headers.getSetCookie().some((c) => /^tessera_refresh=;/.test(c))).toBe(true);
    // The whole session is gone: the legitimate successor and every access token of it.
    expect((await call(t, 'POST', '/auth/refresh', { cookie: first.refreshCookie })).body.error.code).toBe('sessions.refresh_token_invalid');
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: first.body.accessToken })).body.error.code).toBe('invalid_token');
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: me.accessToken })).body.error.code).toBe('invalid_token');
    const events = await auditActions(t, admin.tenantId);
    expect(events.some((e) => e.action === 'auth.refresh.reuse_detected' && e.outcome === 'failure')).toBe(true);
  });

  it('refuses a missing, malformed, unknown or expired refresh token', async () => {
    expect((await call(t, 'POST', '/auth/refresh')).body.error.code).toBe('sessions.refresh_token_invalid');
    expect((await call(t, 'POST', '/auth/refresh', { cookie: 'tessera_refresh=garbage' })).body.error.code).toBe('sessions.refresh_token_invalid');
    const unknown = `tessera_refresh=rt1.${admin.tenantId}.${'A'.repeat(43)}`;
    expect((await call(t, 'POST', '/auth/refresh', { cookie: unknown })).body.error.code).toBe('sessions.refresh_token_invalid');
    const me = await loginAsPlainUser(t, admin);
    t.clock.advance(8 * 3600_000 + 1000); // the default refresh lifetime
    expect((await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie })).body.error.code).toBe('sessions.refresh_token_invalid');
    // …and the access token of that session has expired too.
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: me.accessToken })).body.error.code).toBe('invalid_token');
  });

  it('logout revokes the session: its access token is refused on the next request, its refresh token too', async () => {
    const me = await loginAsPlainUser(t, admin);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: me.accessToken })).status).toBe(200);
    const out = await call(t, 'POST', '/auth/logout', { token: me.accessToken });
    expect(out.status).toBe(204);
    expect(out.response.headers.getSetCookie().some((c) => /^tessera_refresh=;/.test(c))).toBe(true);
    const after = await call(t, 'GET', '/api/v1/me/sessions', { token: me.accessToken });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('invalid_token');
    expect((await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie })).body.error.code).toBe('sessions.refresh_token_invalid');
    expect((await auditActions(t, admin.tenantId)).some((e) => e.action === 'auth.logout')).toBe(true);
  });

  it('lists the user’s sessions (device, IP, last seen) and revokes one or all the others', async () => {
    const tab1 = await loginAsPlainUser(t, admin);
    const r2 = await call(t, 'POST', '/auth/login', { body: { email: tab1.email, password: tab1.password }, headers: { 'user-agent': 'Phone/1.0' } });
    const r3 = await call(t, 'POST', '/auth/login', { body: { email: tab1.email, password: tab1.password }, headers: { 'user-agent': 'Laptop/2.0' } });
    const list = await call(t, 'GET', '/api/v1/me/sessions', { token: tab1.accessToken });
    expect(list.body.sessions).toHaveLength(3);
    const phone = list.body.sessions.find((s) => s.userAgent === 'Phone/1.0')!;
    expect(phone).toMatchObject({ ip: '127.0.0.1', current: false, accountId: admin.accountId, accountName: 'Main', lastSeenAt: match.anyString() });
    expect(list.body.sessions.filter((s) => s.current)).toHaveLength(1);

    expect((await call(t, 'DELETE', `/api/v1/me/sessions/${phone.id}`, { token: tab1.accessToken })).status).toBe(204);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: r2.body.session.accessToken })).body.error.code).toBe('invalid_token');
    // Another user's session is not found, never forbidden.
    const adminNow = await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    const adminSessions = (await call(t, 'GET', '/api/v1/me/sessions', { token: adminNow.accessToken })).body.sessions;
    const notMine = await call(t, 'DELETE', `/api/v1/me/sessions/${adminSessions[0]!.id}`, { token: tab1.accessToken });
    expect(notMine.status).toBe(404);

    const others = await call(t, 'DELETE', '/api/v1/me/sessions', { token: tab1.accessToken });
    expect(others.body).toEqual({ revoked: 1 });
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: r3.body.session.accessToken })).status).toBe(401);
    const left = await call(t, 'GET', '/api/v1/me/sessions', { token: tab1.accessToken });
    expect(left.body.sessions).toHaveLength(1);
  });

  it('an administrator revokes every session of a user (idp.manage); the user is refused at once', async () => {
    const user = await loginAsPlainUser(t, admin);
    const adminNow = await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    const denied = await call(t, 'DELETE', `/api/v1/users/${admin.userId}/sessions`, { token: user.accessToken });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('permission_denied');
    const revoked = await call(t, 'DELETE', `/api/v1/users/${user.userId}/sessions`, { token: adminNow.accessToken });
    expect(revoked.body).toEqual({ revoked: 1 });
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).body.error.code).toBe('invalid_token');
    expect((await call(t, 'DELETE', `/api/v1/users/${crypto.randomUUID()}/sessions`, { token: adminNow.accessToken })).status).toBe(404);
    const events = await auditActions(t, admin.tenantId);
    expect(events.some((e) => e.action === 'auth.session.revoked' && e.target_id === user.userId)).toBe(true);
  });

  it('deactivating a user (with revokeAllSessionsOfUser in the same transaction) refuses the user’s next request', async () => {
    const user = await loginAsPlainUser(t, admin);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(200);
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      await tx.updateTable('users').set({ active: false }).where('tenant_id', '=', admin.tenantId).where('id', '=', user.userId).execute();
      expect(await t.app.services.sessions.revokeAllSessionsOfUser(tx, admin.tenantId, user.userId, 'deactivated')).toBe(1);
    });
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).body.error.code).toBe('invalid_token');
    expect((await call(t, 'POST', '/auth/refresh', { cookie: user.refreshCookie })).body.error.code).toBe('sessions.refresh_token_invalid');
  });

  it('a revocation rolled back with its transaction leaves the session working', async () => {
    const user = await loginAsPlainUser(t, admin);
    await expect(
      t.app.db.tenantWork(admin.tenantId, async (tx) => {
        await t.app.services.sessions.revokeAllSessionsOfUser(tx, admin.tenantId, user.userId, 'test');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(200);
  });

  it('another tenant cannot see or revoke the sessions of this one', async () => {
    const other = await loginAsAdmin(t, { tenantName: 'Other' });
    const user = await loginAsPlainUser(t, admin);
    const cross = await call(t, 'DELETE', `/api/v1/users/${user.userId}/sessions`, { token: other.accessToken });
    expect(cross.status).toBe(404);
    const rows = await t.app.db.tenantWork(other.tenantId, (tx) => tx.selectFrom('sessions').select(['tenant_id']).execute());
    expect(rows.length).toBeGreaterThan(0); // at least the other administrator's own session
    expect(rows.every((r) => r.tenant_id === other.tenantId)).toBe(true);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(200);
  });
});
