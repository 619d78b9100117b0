import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { authHeaders, createPlainUser, loginAsAdmin, loginAsPlainUser, type LoggedIn } from '../../../test/support/login.js';

async function post(t: TestApp, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads whatever JSON came back
  return { status: response.status, body: (await response.json().catch(() => null)) as Record<string, any>, response };
}

describe.each(engines())('login [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t.close());

  it('logs the administrator in with one account: the session is created at once', async () => {
    const me = await fetch(`${t.url}/api/v1/me/sessions`, { headers: authHeaders(admin, false) });
    expect(me.status).toBe(200);
    const body = (await me.json()) as { sessions: { id: string; current: boolean; accountId: string }[] };
    expect(body.sessions).toHaveLength(1);
    expect(body.sessions[0]).toMatchObject({ current: true, accountId: admin.accountId });
  });

  it('answers wrong password, unknown email and inactive user alike with invalid_credentials', async () => {
    await createPlainUser(t, admin, { email: 'inactive@example.com', password: 'inactive password', active: false });
    const answers = await Promise.all([
      post(t, '/auth/login', { email: admin.email, password: 'wrong password!' }),
      post(t, '/auth/login', { email: 'nobody@example.com', password: 'wrong password!' }),
      post(t, '/auth/login', { email: 'inactive@example.com', password: 'inactive password' }),
    ]);
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(a.body.error).toMatchObject({ code: 'invalid_credentials', message: 'Invalid email or password' });
    }
  });

  it('a plain user is authenticated but lacks permissions', async () => {
    const user = await loginAsPlainUser(t, admin);
    const denied = await fetch(`${t.url}/api/v1/users/${admin.userId}/sessions`, { method: 'DELETE', headers: authHeaders(user, false) });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('permission_denied');
  });
});
