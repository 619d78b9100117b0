import { expect } from 'vitest';
import { newId } from '../../src/kernel/ids.js';
import type { TestApp } from './app.js';

/** A signed-in user of a test app: what the HTTP login returned, plus who it is. */
export interface LoggedIn {
  readonly accessToken: string;
  /** `tessera_refresh=<token>`, ready for a Cookie header to /auth/refresh. */
  readonly refreshCookie: string;
  readonly tenantId: string;
  readonly accountId: string;
  readonly userId: string;
  readonly email: string;
  readonly password: string;
}

export const ADMIN_PASSWORD = 'correct horse battery staple 42';

/** `Authorization: Bearer …` (and JSON content type) for fetch. */
export function authHeaders(who: { accessToken: string }, json = true): Record<string, string> {
  return { authorization: `Bearer ${who.accessToken}`, ...(json ? { 'content-type': 'application/json' } : {}) };
}

/** The refresh cookie a response set, as `name=value`, or undefined. */
export function refreshCookieOf(response: Response): string | undefined {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('tessera_refresh='));
  const pair = cookie?.split(';')[0];
  return pair && pair !== 'tessera_refresh=' ? pair : undefined;
}

/** Logs in over HTTP (POST /auth/login) a user who may enter exactly one account; returns the session. */
export async function loginOverHttp(t: TestApp, input: { email: string; password: string; tenantId?: string }): Promise<{ accessToken: string; refreshCookie: string; accountId: string; userId: string; tenantId: string }> {
  const response = await fetch(`${t.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
  const body = (await response.json()) as { status: string; tenantId: string; userId: string; session?: { accessToken: string; accountId: string } };
  expect(response.status, JSON.stringify(body)).toBe(200);
  expect(body.status).toBe('authenticated');
  const refreshCookie = refreshCookieOf(response);
  if (!body.session || !refreshCookie) throw new Error(`login did not create a session: ${JSON.stringify(body)}`);
  return { accessToken: body.session.accessToken, refreshCookie, accountId: body.session.accountId, userId: body.userId, tenantId: body.tenantId };
}

/**
 * A fresh tenant with one account and an administrator (Account Administrator role, tenant admin), created
 * by the bootstrap service, then logged in through the real HTTP endpoints.
 */
export async function loginAsAdmin(t: TestApp, options: { email?: string; password?: string; tenantName?: string } = {}): Promise<LoggedIn> {
  const email = options.email ?? `admin-${newId().slice(-12)}@example.com`;
  const password = options.password ?? ADMIN_PASSWORD;
  const created = await t.app.services.bootstrap.bootstrap({ tenantName: options.tenantName ?? 'Acme', accountName: 'Main', email, password });
  const session = await loginOverHttp(t, { email, password, tenantId: created.tenantId });
  return { ...session, email, password };
}

/**
 * A user in the admin's tenant who can enter the admin's account but holds no permission there (a role
 * with an empty permission set), logged in over HTTP: for `permission_denied` tests.
 */
export async function loginAsPlainUser(t: TestApp, admin: LoggedIn, options: { email?: string; password?: string } = {}): Promise<LoggedIn> {
  const email = options.email ?? `user-${newId().slice(-12)}@example.com`;
  const password = options.password ?? 'plain user password 42';
  await createPlainUser(t, admin, { email, password });
  const session = await loginOverHttp(t, { email, password, tenantId: admin.tenantId });
  return { ...session, email, password };
}

/** Creates that plain user without logging in; returns its id. `withRole: false` leaves it with no account at all. */
export async function createPlainUser(
  t: TestApp,
  admin: { tenantId: string; accountId: string },
  input: { email: string; password?: string; withRole?: boolean; active?: boolean },
): Promise<string> {
  const userId = newId();
  const passwordHash = input.password === undefined ? null : await t.app.services.passwords.hash(input.password);
  await t.app.db.tenantWork(admin.tenantId, async (tx) => {
    await tx
      .insertInto('users')
      .values({ tenant_id: admin.tenantId, id: userId, email: input.email, name: 'Plain User', password_hash: passwordHash, active: input.active ?? true })
      .execute();
    if (input.withRole === false) return;
    let role = await tx.selectFrom('roles').select('id').where('account_id', '=', admin.accountId).where('name', '=', 'No permissions').executeTakeFirst();
    if (!role) {
      role = { id: newId() };
      await tx.insertInto('roles').values({ account_id: admin.accountId, id: role.id, name: 'No permissions', permissions: [] }).execute();
    }
    await tx.insertInto('role_assignments').values({ tenant_id: admin.tenantId, id: newId(), account_id: admin.accountId, role_id: role.id, user_id: userId }).execute();
  });
  return userId;
}

/**
 * Logs in a user whose password must be changed (a one-time password from bootstrap or a reset): login answers
 * `password_change_required`, the new password goes to POST /auth/password/change, which creates the session.
 */
export async function loginChangingPassword(t: TestApp, input: { email: string; password: string; newPassword: string; tenantId?: string }): Promise<{ accessToken: string; refreshCookie: string; accountId: string; userId: string; tenantId: string }> {
  const { newPassword, ...credentials } = input;
  const first = await fetch(`${t.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials) });
  const pending = (await first.json()) as { status: string; passwordChangeToken?: string };
  expect(pending.status, JSON.stringify(pending)).toBe('password_change_required');
  const response = await fetch(`${t.url}/auth/password/change`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ passwordChangeToken: pending.passwordChangeToken, newPassword }) });
  const body = (await response.json()) as { status: string; tenantId: string; userId: string; session?: { accessToken: string; accountId: string } };
  expect(response.status, JSON.stringify(body)).toBe(200);
  const refreshCookie = refreshCookieOf(response);
  if (!body.session || !refreshCookie) throw new Error(`the password change did not create a session: ${JSON.stringify(body)}`);
  return { accessToken: body.session.accessToken, refreshCookie, accountId: body.session.accountId, userId: body.userId, tenantId: body.tenantId };
}
