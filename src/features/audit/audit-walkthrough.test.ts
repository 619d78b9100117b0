import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp, refreshCookieOf } from '../../../test/support/login.js';
import type { ChainedEvent } from './audit-chain.js';

const codeAt = (secret: string, at: Date) => TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: at.getTime() });

// DESIGN §4 (every privileged action writes an audit event in the same transaction): every privileged
// action that exists leaves exactly its event(s), in the tenant's chain, and the log then reads, exports and verifies. Each step is driven over real HTTP and compared
// with the events appended during that step only. The steps are one walkthrough: each builds on what the
// step before left (the user, its role, its sessions, its TOTP), so they run in order, never shuffled, and a
// step run alone (-t) is not meaningful.
for (const engine of engines()) describe(`every privileged action leaves its audit event [${engine}]`, { shuffle: false }, () => {
  let t: TestApp;
  let admin: LoggedIn;
  let userId: string;
  const userEmail = 'walker@example.com';
  const userPassword = 'walker password 1234';
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  async function head(): Promise<number> {
    const row = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_heads').select('last_seq').where('tenant_id', '=', admin.tenantId).executeTakeFirst());
    return Number(row?.last_seq ?? 0);
  }

  /** Runs one action and returns the events it appended to the tenant's chain (action, actor type, outcome). */
  async function step(run: () => Promise<unknown>): Promise<string[]> {
    const before = await head();
    await run();
    const rows = await t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select(['action', 'outcome']).where('tenant_id', '=', admin.tenantId).where('seq', '>', before).orderBy('seq').execute(),
    );
    return rows.map((r) => `${r.action}:${r.outcome}`);
  }

  const login = (password = userPassword) => callApi<{ status: string; challengeToken?: string }>(t, null, 'POST', '/auth/login', { email: userEmail, password, tenantId: admin.tenantId });

  beforeAll(async () => {
    t = await startTestApp(engine);
    t.clock.set(Math.floor(Date.now() / 30_000) * 30_000 + 15_000); // mid TOTP step
    admin = await loginAsAdmin(t, { tenantName: 'Walkthrough' });
  });
  afterAll(() => t.close());

  it('bootstrap and the administrator’s first login', async () => {
    const { events } = await t.app.services.audit.listEvents(admin.tenantId, { filters: {}, limit: 100 });
    expect(events.reverse().map((e) => `${e.action}:${e.actor.type}:${e.actor.id}`)).toEqual([
      'tenant.created:system:bootstrap',
      'account.created:system:bootstrap',
      'user.created:system:bootstrap',
      'role_assignment.created:system:bootstrap',
      `auth.login.succeeded:user:${admin.userId}`,
    ]);
  });

  it('user management: create, update, password reset', async () => {
    expect(
      await step(async () => {
        const created = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email: userEmail, password: userPassword });
        expect(created.status).toBe(201);
        userId = created.body.id;
      }),
    ).toEqual(['user.created:success']);
    // The user needs a role in the account to sign in: that is the next section's assignment.
    expect(await step(() => api(admin, 'PATCH', `/api/v1/users/${userId}`, { name: 'Walker' }))).toEqual(['user.updated:success']);
    expect(await step(() => api(admin, 'POST', `/api/v1/users/${userId}/reset-password`, { password: userPassword, mustChangePassword: false }))).toEqual([
      'user.password_reset:success',
    ]);
  });

  it('access control: catalog, roles, assignments (create, expire, remove), groups and members, API keys', async () => {
    const ok = async (r: Promise<{ status: number; body: unknown }>, status: number) => {
      const response = await r;
      expect(response.status, JSON.stringify(response.body)).toBe(status);
      return response.body as { id: string };
    };
    expect(await step(() => ok(api(admin, 'PUT', '/api/v1/permissions', { permissions: [{ key: 'hosts.view', category: 'Hosts' }] }), 200))).toEqual([
      'permission_catalog.updated:success',
    ]);
    let roleId = '';
    expect(await step(async () => (roleId = (await ok(api(admin, 'POST', '/api/v1/roles', { name: 'Walkers', permissions: ['hosts.view'] }), 201)).id))).toEqual([
      'role.created:success',
    ]);
    expect(await step(() => ok(api(admin, 'PATCH', `/api/v1/roles/${roleId}`, { description: 'People who walk' }), 200))).toEqual(['role.updated:success']);
    expect(await step(() => ok(api(admin, 'POST', '/api/v1/assignments', { roleId, userId }), 201))).toEqual(['role_assignment.created:success']);

    let groupId = '';
    expect(await step(async () => (groupId = (await ok(api(admin, 'POST', '/api/v1/groups', { name: 'Hikers' }), 201)).id))).toEqual(['group.created:success']);
    expect(await step(() => ok(api(admin, 'PATCH', `/api/v1/groups/${groupId}`, { description: 'Weekend group' }), 200))).toEqual(['group.updated:success']);
    expect(await step(() => api(admin, 'PUT', `/api/v1/groups/${groupId}/members/${userId}`))).toEqual(['group.member_added:success']);
    const expiresAt = new Date(t.clock.now().getTime() + 60_000).toISOString();
    expect(await step(() => ok(api(admin, 'POST', '/api/v1/assignments', { roleId, groupId, expiresAt }), 201))).toEqual(['role_assignment.created:success']);
    t.clock.advance(61_000);
    expect(await step(() => t.app.services.rbac.assignments.expireDue())).toEqual(['role_assignment.expired:success']);
    expect(await step(() => api(admin, 'DELETE', `/api/v1/groups/${groupId}/members/${userId}`))).toEqual(['group.member_removed:success']);
    expect(await step(() => api(admin, 'DELETE', `/api/v1/groups/${groupId}`))).toEqual(['group.deleted:success']);

    let keyId = '';
    expect(await step(async () => (keyId = (await ok(api(admin, 'POST', '/api/v1/api-keys', { name: 'CI', permissions: ['hosts.view'] }), 201)).id))).toEqual([
      'api_key.created:success',
    ]);
    expect(await step(() => api(admin, 'DELETE', `/api/v1/api-keys/${keyId}`))).toEqual(['api_key.revoked:success']);

    // A second role, assigned and then unassigned, then deleted.
    let spare = '';
    await step(async () => (spare = (await ok(api(admin, 'POST', '/api/v1/roles', { name: 'Spare' }), 201)).id));
    let spareAssignment = '';
    await step(async () => (spareAssignment = (await ok(api(admin, 'POST', '/api/v1/assignments', { roleId: spare, userId }), 201)).id));
    expect(await step(() => api(admin, 'DELETE', `/api/v1/assignments/${spareAssignment}`))).toEqual(['role_assignment.removed:success']);
    expect(await step(() => api(admin, 'DELETE', `/api/v1/roles/${spare}`))).toEqual(['role.deleted:success']);
  });

  it('organizations: created, renamed, deleted', async () => {
    let orgId = '';
    expect(
      await step(async () => {
        const created = await api<{ id: string }>(admin, 'POST', '/api/v1/organizations', { name: 'Trailheads' });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        orgId = created.body.id;
      }),
    ).toEqual(['organization.created:success']);
    expect(await step(() => api(admin, 'PATCH', `/api/v1/organizations/${orgId}`, { name: 'Trailheads North' }))).toEqual(['organization.updated:success']);
    expect(await step(() => api(admin, 'DELETE', `/api/v1/organizations/${orgId}`))).toEqual(['organization.deleted:success']);
  });

  it('tenant security settings', async () => {
    expect(
      await step(async () => {
        const r = await api(admin, 'PATCH', '/api/v1/tenant/security-settings', { sessionLifetimeSeconds: 7200, refreshLifetimeSeconds: 3600 });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      }),
    ).toEqual(['tenant.security_settings.updated:success']);
  });

  it('login outcomes: success, failure, logout, refresh-token reuse, session revocation', async () => {
    expect(await step(() => login())).toEqual(['auth.login.succeeded:success']);
    expect(await step(() => login('wrong password 1234'))).toEqual(['auth.login.failed:failure']);

    const session = await loginOverHttp(t, { email: userEmail, password: userPassword, tenantId: admin.tenantId });
    expect(await step(() => api(session, 'POST', '/auth/logout'))).toEqual(['auth.logout:success']);

    const again = await loginOverHttp(t, { email: userEmail, password: userPassword, tenantId: admin.tenantId });
    const rotated = await fetch(`${t.url}/auth/refresh`, { method: 'POST', headers: { cookie: again.refreshCookie } });
    expect(rotated.status).toBe(200);
    expect(refreshCookieOf(rotated)).toBeDefined();
    t.clock.advance(11_000); // beyond the grace window for a client racing itself
    expect(await step(() => fetch(`${t.url}/auth/refresh`, { method: 'POST', headers: { cookie: again.refreshCookie } }))).toEqual([
      'auth.refresh.reuse_detected:failure',
    ]);

    await loginOverHttp(t, { email: userEmail, password: userPassword, tenantId: admin.tenantId });
    expect(await step(() => api(admin, 'DELETE', `/api/v1/users/${userId}/sessions`))).toEqual(['auth.session.revoked:success']);
  });

  it('two-step verification: enabled, challenge failed, reset by an administrator, disabled', async () => {
    const user = await loginOverHttp(t, { email: userEmail, password: userPassword, tenantId: admin.tenantId });
    let secret = '';
    expect(
      await step(async () => {
        const setup = await api<{ secret: string }>(user, 'POST', '/api/v1/me/mfa/setup');
        secret = setup.body.secret;
        expect((await api(user, 'POST', '/api/v1/me/mfa/verify', { code: codeAt(secret, t.clock.now()) })).status).toBe(200);
      }),
    ).toEqual(['mfa.enabled:success']);
    expect(
      await step(async () => {
        const first = await login();
        expect(first.body.status).toBe('mfa_required');
        await callApi(t, null, 'POST', '/auth/login/mfa', { challengeToken: first.body.challengeToken, code: codeAt(secret, new Date(t.clock.now().getTime() + 300_000)) });
      }),
    ).toEqual(['auth.mfa.failed:failure']);
    expect(await step(() => api(admin, 'DELETE', `/api/v1/users/${userId}/mfa`))).toEqual(['user.mfa_reset:success']);

    t.clock.advance(30_000);
    const setup = await api<{ secret: string }>(admin, 'POST', '/api/v1/me/mfa/setup');
    await api(admin, 'POST', '/api/v1/me/mfa/verify', { code: codeAt(setup.body.secret, t.clock.now()) });
    expect(await step(() => api(admin, 'POST', '/api/v1/me/mfa/disable', { currentPassword: admin.password }))).toEqual(['mfa.disabled:success']);
  });

  it('lockout after repeated failures', async () => {
    const events: string[] = [];
    for (let i = 0; i < 10; i++) {
      events.push(...(await step(() => login('wrong password 1234'))));
      t.clock.advance(61_000); // past each growing wait, inside the 15-minute window
    }
    expect(events.filter((e) => e === 'auth.login.failed:failure').length).toBeGreaterThanOrEqual(1);
    expect(events.at(-1)).toBe('auth.login.locked:failure');
    expect(events.filter((e) => e === 'auth.login.locked:failure')).toHaveLength(1);
  });

  it('deactivation and key rotation', async () => {
    admin = { ...admin, ...(await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId })) };
    expect(await step(() => api(admin, 'DELETE', `/api/v1/users/${userId}`))).toEqual(['user.deactivated:success']);
    expect(await step(() => t.app.services.keys.rotateSigningKey())).toEqual(['keys.signing_key.rotated:success']);
  });

  it('the whole log reads, exports and verifies through the API', async () => {
    const listed = await api<{ events: ChainedEvent[] }>(admin, 'GET', '/api/v1/audit/events?limit=500');
    expect(listed.status).toBe(200);
    const seqs = listed.body.events.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs.length - i));
    const csv = await fetch(`${t.url}/api/v1/audit/export?format=csv`, { headers: { authorization: `Bearer ${admin.accessToken}` } });
    expect((await csv.text()).split('\r\n').filter(Boolean)).toHaveLength(seqs.length + 1);
    expect((await api<{ ok: boolean; checked: number }>(admin, 'GET', '/api/v1/audit/verify')).body).toMatchObject({ ok: true, checked: seqs.length });
  });
});
