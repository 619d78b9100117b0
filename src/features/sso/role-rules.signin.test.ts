import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { type TestOp } from '../../../test/support/oidc-provider.js';
import { createUserAgent } from '../../../test/support/user-agent.js';
import { markDomainVerified, startSsoTestApp } from '../../../test/support/sso.js';
import { newId } from '../../kernel/ids.js';

type Body = Record<string, unknown>;
type Rule = { claim: string; operator: 'equals' | 'contains' | 'regex'; value: string; roleId: string };

describe.each(engines())('SSO mapping rules at sign-in, and Test connection, with a real OP [%s]', (engine) => {
  let t: TestApp;
  let op: TestOp;
  let admin: LoggedIn;
  const roles: Record<'admin' | 'user' | 'viewer' | 'fallback' | 'hand', string> = { admin: '', user: '', viewer: '', fallback: '', hand: '' };
  const api = <T = Body>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    ({ t, op } = await startSsoTestApp(engine));
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    const perms = { admin: ['idp.view', 'idp.manage', 'audit.view'], user: ['idp.view', 'audit.view'], viewer: ['idp.view'], fallback: ['domains.view'], hand: ['roles.view'] };
    for (const [k, permissions] of Object.entries(perms)) {
      const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `SSO ${k}`, permissions });
      expect(role.status, JSON.stringify(role.body)).toBe(201);
      roles[k as keyof typeof roles] = role.body.id;
    }
    await markDomainVerified(t, admin.tenantId, 'acme.test');
  });
  afterAll(async () => {
    await op?.close();
    await t?.close();
  });

  async function createConnection(who: LoggedIn, rules: Rule[], overrides: Body = {}): Promise<string> {
    const res = await api<{ id: string }>(who, 'POST', '/api/v1/sso/connections', {
      type: 'oidc', name: `Okta ${newId().slice(-8)}`, enabled: true, domains: ['acme.test'], defaultRoleId: roles.fallback, rules,
      oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret, scopes: 'openid email profile groups' }, ...overrides,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  /** A whole sign-in in a fresh browser, then the one-time result: the user id and the session's permissions. */
  async function signIn(connection: string, sub: string): Promise<{ userId: string; accessToken: string }> {
    t.clock.set(new Date());
    const ua = createUserAgent();
    op.queueLogin(sub);
    const { chain } = await ua.navigate(`${t.url}/auth/sso/start?connection=${connection}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    const landing = new URL(chain.at(-1)!);
    expect(landing.searchParams.get('error'), chain.join(' -> ')).toBeNull();
    const res = await ua.request(`${t.url}/auth/sso/result`, { method: 'POST' });
    const body = (await res.json()) as { userId: string; session: { accessToken: string } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return { userId: body.userId, accessToken: body.session.accessToken };
  }

  /** The user's assignments: role ids the connection manages, and the others. */
  async function assignments(userId: string, connection: string) {
    const rows = await t.app.db.tenantWork(admin.tenantId, (tx) => tx.selectFrom('role_assignments').select(['role_id', 'managed_by']).where('tenant_id', '=', admin.tenantId).where('user_id', '=', userId).execute());
    return {
      managed: rows.filter((r) => r.managed_by === `sso:${connection}`).map((r) => r.role_id).sort(),
      byHand: rows.filter((r) => r.managed_by === null).map((r) => r.role_id).sort(),
    };
  }

  async function events(action: string, userId?: string) {
    const rows = await t.app.db.ownerWork((tx) => {
      let q = tx.selectFrom('audit_events').select(['action', 'details', 'error_code', 'target_id', 'outcome']).where('tenant_id', '=', admin.tenantId).where('action', '=', action);
      if (userId) q = q.where('target_id', '=', userId);
      return q.orderBy('seq').execute();
    });
    return rows.map((r) => ({ ...r, details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown> }));
  }

  const sorted = (...ids: string[]) => [...ids].sort();
  const ordered: () => Rule[] = () => [
    { claim: 'groups', operator: 'equals', value: 'admins', roleId: roles.admin },
    { claim: 'groups', operator: 'contains', value: 'users', roleId: roles.user },
    { claim: 'groups', operator: 'regex', value: '^(viewers|auditors)$', roleId: roles.viewer },
  ];

  it('highest_match: the first matching rule in order wins; no match gives the default role', async () => {
    const connection = await createConnection(admin, ordered(), { rulesMode: 'highest_match' });
    op.addAccount('hm-1', { email: 'hm1@acme.test', email_verified: true, groups: ['viewers', 'users', 'admins'] });
    const a = await signIn(connection, 'hm-1');
    expect((await assignments(a.userId, connection)).managed).toEqual([roles.admin]);
    op.addAccount('hm-2', { email: 'hm2@acme.test', email_verified: true, groups: ['viewers', 'users'] });
    const b = await signIn(connection, 'hm-2');
    expect((await assignments(b.userId, connection)).managed).toEqual([roles.user]);
    op.addAccount('hm-3', { email: 'hm3@acme.test', email_verified: true, groups: ['contractors'] });
    const c = await signIn(connection, 'hm-3');
    expect((await assignments(c.userId, connection)).managed).toEqual([roles.fallback]);
    // JIT: the user joined the account through the connection.
    expect((await events('sso.member.created', c.userId))[0]?.details).toMatchObject({ connectionId: connection, accountId: admin.accountId, roleIds: [roles.fallback] });
  });

  it('additive: every matching rule\'s role; the session carries them on its first request', async () => {
    const connection = await createConnection(admin, ordered(), { rulesMode: 'additive' });
    op.addAccount('add-1', { email: 'add1@acme.test', email_verified: true, groups: ['viewers', 'users', 'admins'] });
    const a = await signIn(connection, 'add-1');
    expect((await assignments(a.userId, connection)).managed).toEqual(sorted(roles.admin, roles.user, roles.viewer));
    const me = await api<{ accounts: { permissions: { key: string; sources: { managedBy: string | null }[] }[] }[] }>(a, 'GET', '/api/v1/me/access');
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    const manage = me.body.accounts[0]!.permissions.find((p) => p.key === 'idp.manage');
    expect(manage?.sources[0]?.managedBy).toBe(`sso:${connection}`);
  });

  it('re-applies the rules at every sign-in: roles follow the IdP\'s groups (audited before/after), hand-assigned roles stay', async () => {
    const connection = await createConnection(admin, ordered(), { rulesMode: 'additive' });
    op.addAccount('re-1', { email: 're1@acme.test', email_verified: true, groups: ['users'] });
    const first = await signIn(connection, 're-1');
    expect((await assignments(first.userId, connection)).managed).toEqual([roles.user]);
    const hand = await api<{ id: string }>(admin, 'POST', '/api/v1/assignments', { roleId: roles.hand, userId: first.userId });
    expect(hand.status, JSON.stringify(hand.body)).toBe(201);

    // The IdP moved the user from users to viewers + admins.
    op.addAccount('re-1', { email: 're1@acme.test', email_verified: true, groups: ['viewers', 'admins'] });
    const second = await signIn(connection, 're-1');
    expect(second.userId).toBe(first.userId);
    expect(await assignments(first.userId, connection)).toEqual({ managed: sorted(roles.admin, roles.viewer), byHand: [roles.hand] });
    const changed = await events('sso.roles.changed', first.userId);
    expect(changed.at(-1)?.details).toMatchObject({ connectionId: connection, before: [roles.user], after: sorted(roles.admin, roles.viewer) });
    // The explain output names the assignment's source.
    const explain = await api<{ chains: { assignment: { managedBy: string | null } }[] }>(admin, 'GET', `/api/v1/access/explain?user=${first.userId}&permission=idp.manage`);
    expect(explain.status, JSON.stringify(explain.body)).toBe(200);
    expect(explain.body.chains.map((c) => c.assignment.managedBy)).toEqual([`sso:${connection}`]);

    // No group matches any more: the default role; the hand-made one still stays. An unchanged login audits nothing.
    op.addAccount('re-1', { email: 're1@acme.test', email_verified: true, groups: [] });
    await signIn(connection, 're-1');
    expect(await assignments(first.userId, connection)).toEqual({ managed: [roles.fallback], byHand: [roles.hand] });
    const count = (await events('sso.roles.changed', first.userId)).length;
    await signIn(connection, 're-1');
    expect((await events('sso.roles.changed', first.userId)).length).toBe(count);

    // Deleting the connection removes what it manages (audited), and nothing else.
    const del = await api(admin, 'DELETE', `/api/v1/sso/connections/${connection}`);
    expect(del.status).toBe(204);
    expect(await assignments(first.userId, connection)).toEqual({ managed: [], byHand: [roles.hand] });
    const deleted = await events('sso.connection.deleted');
    expect((deleted.at(-1)?.details.removedAssignments as unknown[]).length).toBe(1);
  });

  it('never gives Account Administrator at sign-in, even when a rule names it (refused and audited; the login succeeds)', async () => {
    const connection = await createConnection(admin, [{ claim: 'groups', operator: 'equals', value: 'users', roleId: roles.user }], { rulesMode: 'additive' });
    const accountAdmin = await t.app.db.tenantWork(admin.tenantId, (tx) => tx.selectFrom('roles').select('id').where('account_id', '=', admin.accountId).where('system_key', '=', 'account_admin').executeTakeFirstOrThrow());
    // The configuration API refuses it (sso_role_forbidden); a rule written past it (an older version, a restore) is still refused here.
    const rules = [{ claim: 'groups', operator: 'equals', value: 'owners', roleId: accountAdmin.id, organizationId: null }, { claim: 'groups', operator: 'equals', value: 'users', roleId: roles.user, organizationId: null }];
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.updateTable('sso_connections').set({ rules: JSON.stringify(rules) }).where('tenant_id', '=', admin.tenantId).where('id', '=', connection).execute());
    op.addAccount('aa-1', { email: 'aa1@acme.test', email_verified: true, groups: ['owners', 'users'] });
    const s = await signIn(connection, 'aa-1');
    expect((await assignments(s.userId, connection)).managed).toEqual([roles.user]);
    const refusals = await events('access.grant.refused', s.userId);
    expect(refusals.at(-1)).toMatchObject({ error_code: 'sso_role_forbidden', outcome: 'failure', details: { change: 'sso.signin.roles', reason: 'account_admin', roleId: accountAdmin.id } });
  });

  it('a configurer demoted since: the role beyond their current access is skipped and audited; the rest is given', async () => {
    // A second tenant administrator who holds what the mapped roles give, configures the connection.
    const email = `configurer-${newId().slice(-8)}@example.com`;
    const password = 'configurer password 42 long';
    const user = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password, isTenantAdmin: true, mustChangePassword: false });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const full = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Configurer ${newId().slice(-6)}`, permissions: ['sso.view', 'sso.manage', 'idp.view', 'idp.manage', 'audit.view', 'domains.view'] });
    const reduced = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Reduced ${newId().slice(-6)}`, permissions: ['sso.view', 'sso.manage', 'idp.view', 'audit.view', 'domains.view'] });
    const fullAssignment = await api<{ id: string }>(admin, 'POST', '/api/v1/assignments', { roleId: full.body.id, userId: user.body.id });
    expect(fullAssignment.status, JSON.stringify(fullAssignment.body)).toBe(201);
    const configurer = { ...(await loginOverHttp(t, { email, password, tenantId: admin.tenantId })), email, password };
    const connection = await createConnection(configurer, ordered(), { rulesMode: 'additive' });

    op.addAccount('dm-1', { email: 'dm1@acme.test', email_verified: true, groups: ['admins', 'users'] });
    const before = await signIn(connection, 'dm-1');
    expect((await assignments(before.userId, connection)).managed).toEqual(sorted(roles.admin, roles.user));

    // Demoted: idp.manage is gone from the configurer's access.
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: reduced.body.id, userId: user.body.id })).status).toBe(201);
    expect((await api(admin, 'DELETE', `/api/v1/assignments/${fullAssignment.body.id}`)).status).toBe(204);
    await signIn(connection, 'dm-1');
    expect((await assignments(before.userId, connection)).managed).toEqual([roles.user]);
    const refusal = (await events('access.grant.refused', before.userId)).at(-1);
    expect(refusal).toMatchObject({ error_code: 'rbac.grant_exceeds_own_access', details: { change: 'sso.signin.roles', reason: 'grant_exceeds', roleId: roles.admin, missing: ['idp.manage'], granterId: user.body.id } });
    expect((await events('sso.roles.changed', before.userId)).at(-1)?.details).toMatchObject({ before: sorted(roles.admin, roles.user), after: [roles.user] });
  });

  it('regex rules run on RE2: a classic ReDoS pattern against a long claim completes and the login works', async () => {
    const connection = await createConnection(admin, [{ claim: 'groups', operator: 'regex', value: '(a+)+$', roleId: roles.viewer }], { rulesMode: 'additive' });
    op.addAccount('redos-1', { email: 'redos1@acme.test', email_verified: true, groups: [`${'a'.repeat(5000)}!`, `${'a'.repeat(40)}`] });
    const s = await signIn(connection, 'redos-1');
    expect((await assignments(s.userId, connection)).managed).toEqual([roles.viewer]);
  });

  /** Runs a test link in a fresh browser; the landing URL. */
  async function runTest(url: string, sub: string): Promise<URL> {
    t.clock.set(new Date());
    op.queueLogin(sub);
    const { chain } = await createUserAgent().navigate(url);
    return new URL(chain.at(-1)!);
  }

  async function counts() {
    return t.app.db.ownerWork(async (tx) => ({
      users: (await tx.selectFrom('users').select('id').where('tenant_id', '=', admin.tenantId).execute()).length,
      identities: (await tx.selectFrom('sso_identities').select('subject').where('tenant_id', '=', admin.tenantId).execute()).length,
      assignments: (await tx.selectFrom('role_assignments').select('id').where('tenant_id', '=', admin.tenantId).execute()).length,
      sessions: (await tx.selectFrom('sessions').select('id').where('tenant_id', '=', admin.tenantId).execute()).length,
    }));
  }

  it('Test connection on a disabled connection: claims and mapping shown, nothing created; another tenant cannot read it', async () => {
    const connection = await createConnection(admin, ordered(), { rulesMode: 'additive', enabled: false });
    op.addAccount('tc-1', { email: 'tc1@acme.test', email_verified: true, groups: ['admins', 'viewers'], name: 'Tess Connection' });
    const started = await api<{ url: string; testId: string }>(admin, 'POST', `/api/v1/sso/connections/${connection}/test`, { returnTo: '/settings/sso' });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const before = await counts();
    const landing = await runTest(started.body.url, 'tc-1');
    expect(landing.pathname).toBe('/settings/sso');
    expect(landing.searchParams.get('ssoTest')).toBe(started.body.testId);
    expect(landing.searchParams.get('error')).toBeNull();
    expect(await counts()).toEqual(before);

    const read = await api<{ status: string; outcome: Body }>(admin, 'GET', `/api/v1/sso/connections/${connection}/tests/${started.body.testId}`);
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body.status).toBe('succeeded');
    expect(read.body.outcome).toMatchObject({
      error: null,
      email: 'tc1@acme.test',
      claims: { sub: 'tc-1', groups: ['admins', 'viewers'] },
      user: { existingUserId: null, wouldBeProvisioned: true },
      mapping: { mode: 'additive', usedDefault: false, refused: [] },
    });
    const mapping = read.body.outcome.mapping as { matchedRules: { index: number }[]; roles: { roleId: string }[] };
    expect(mapping.matchedRules.map((m) => m.index)).toEqual([0, 2]);
    expect(mapping.roles.map((r) => r.roleId)).toEqual([roles.admin, roles.viewer]);
    expect((await events('sso.connection.tested')).at(-1)).toMatchObject({ outcome: 'success', target_id: connection, details: { testId: started.body.testId, status: 'succeeded' } });

    // An existing user (found by email): the roles it would get are shown, and its assignments stay as they are.
    op.addAccount('tc-3', { email: 'tc3@acme.test', email_verified: true, groups: ['users'] });
    const existing = await signIn(await createConnection(admin, ordered()), 'tc-3');
    const again = await api<{ url: string; testId: string }>(admin, 'POST', `/api/v1/sso/connections/${connection}/test`, {});
    const beforeExisting = await counts();
    const assignedBefore = await assignments(existing.userId, connection);
    expect((await runTest(again.body.url, 'tc-3')).searchParams.get('ssoTest')).toBe(again.body.testId);
    expect(await counts()).toEqual(beforeExisting);
    expect(await assignments(existing.userId, connection)).toEqual(assignedBefore);
    const existingOutcome = await api<{ outcome: { user: unknown; mapping: { roles: { roleId: string }[] } } }>(admin, 'GET', `/api/v1/sso/connections/${connection}/tests/${again.body.testId}`);
    expect(existingOutcome.body.outcome.user).toEqual({ existingUserId: existing.userId, wouldBeProvisioned: false });
    expect(existingOutcome.body.outcome.mapping.roles.map((r) => r.roleId)).toEqual([roles.user]);

    const other = await loginAsAdmin(t, { tenantName: 'Globex' });
    const foreign = await api<{ error: { code: string } }>(other, 'GET', `/api/v1/sso/connections/${connection}/tests/${started.body.testId}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('sso.test_not_found');
    // A disabled connection still refuses a real sign-in.
    const real = await createUserAgent().request(`${t.url}/auth/sso/start?connection=${connection}`);
    expect(real.status).toBe(403);
  });

  it('Test connection failure: a wrong audience is recorded with its code, and nothing is created', async () => {
    const connection = await createConnection(admin, ordered());
    op.addAccount('tc-2', { email: 'tc2@acme.test', email_verified: true, groups: ['admins'] });
    const started = await api<{ url: string; testId: string }>(admin, 'POST', `/api/v1/sso/connections/${connection}/test`, {});
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    op.tamperNext('/token', async (body: Body) => {
      const { kid } = jose.decodeProtectedHeader(body.id_token as string);
      const payload = { ...jose.decodeJwt(body.id_token as string), aud: 'someone-else' };
      const jwk = op.keys[0]!;
      return { ...body, id_token: await new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: kid ?? jwk.kid! }).sign(await jose.importJWK(jwk, 'RS256')) };
    });
    const before = await counts();
    const landing = await runTest(started.body.url, 'tc-2');
    expect(landing.pathname).toBe('/login');
    expect(landing.searchParams.get('ssoTest')).toBe(started.body.testId);
    expect(await counts()).toEqual(before);
    const read = await api<{ status: string; outcome: { error: { code: string; message: string } } }>(admin, 'GET', `/api/v1/sso/connections/${connection}/tests/${started.body.testId}`);
    expect(read.body.status).toBe('failed');
    expect(read.body.outcome.error.code).toBe('sso_audience');
    expect((await events('sso.connection.tested')).at(-1)).toMatchObject({ outcome: 'failure', error_code: 'sso_audience' });
  });

  it('a test link is bound to its connection and cannot be altered', async () => {
    const a = await createConnection(admin, []);
    const b = await createConnection(admin, []);
    const started = await api<{ url: string }>(admin, 'POST', `/api/v1/sso/connections/${a}/test`);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const url = new URL(started.body.url);
    url.searchParams.set('connection', b);
    const res = await createUserAgent().request(url.href);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('sso_expired');
  });
});
