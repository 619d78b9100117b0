import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode, type JsonResponse } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser, loginOverHttp } from '../../../test/support/login.js';
import { auditActions, enrollTotp } from '../../../test/support/sessions-http.js';

const NEW_PASSWORD = 'amber lantern meadow 9';
const LOCK_SECONDS = 15 * 60;

// Attack: someone holding a stolen access token guesses the user's current password at the endpoints that
// ask for it. Rule (DESIGN §4, as for login): per user, 3 free failures in 15 minutes, then a growing wait,
// then the 10th locks for 15 minutes; while blocked, even the right password is refused before it is checked.
describe.each(engines())('current-password guesses are throttled [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    // Access tokens outlive the 15-minute lock, so one session can be followed through it.
    t = await startTestApp(engine, { env: { TESSERA_ACCESS_TOKEN_TTL: '3600' } });
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t.close());

  const api = <T = unknown>(who: { accessToken: string }, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);
  const changePassword = (who: LoggedIn, currentPassword: string, newPassword = NEW_PASSWORD) => api(who, 'POST', '/api/v1/me/password', { currentPassword, newPassword });
  const disableMfa = (who: LoggedIn, currentPassword: string) => api(who, 'POST', '/api/v1/me/mfa/disable', { currentPassword });
  const locks = async (userId: string) =>
    (await auditActions(t, admin.tenantId)).filter((e) => e.action === 'user.current_password.locked' && e.target_id === userId);

  function expectWrong(res: JsonResponse): void {
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('identity.current_password_invalid');
  }

  function expectBlocked(res: JsonResponse, retryAfterSeconds: number): void {
    expect(res.status).toBe(429);
    expect(errorCode(res)).toBe('identity.too_many_password_attempts');
    expect(res.headers.get('retry-after')).toBe(String(retryAfterSeconds));
  }

  /** Ten wrong guesses, each after any wait has passed: the tenth locks. */
  async function guessTenTimes(guess: () => Promise<JsonResponse>): Promise<void> {
    for (let i = 1; i <= 10; i++) {
      expectWrong(await guess());
      if (i < 10) t.clock.advance(61_000);
    }
  }

  it('POST /me/password: slows down after 3 failures, locks at the 10th; the right password is refused until the lock ends', async () => {
    const user = await loginAsPlainUser(t, admin);
    const other = await loginOverHttp(t, { email: user.email, password: user.password, tenantId: admin.tenantId });
    for (let i = 1; i <= 4; i++) {
      expectWrong(await changePassword(user, 'not my password'));
      if (i < 4) t.clock.advance(61_000);
    }
    // The 4th failure blocks the next attempt for 1 s, refused before any password check.
    expectBlocked(await changePassword(user, user.password), 1);
    t.clock.advance(1_000);
    for (let i = 5; i <= 10; i++) {
      t.clock.advance(61_000);
      expectWrong(await changePassword(user, 'not my password'));
    }
    expectBlocked(await changePassword(user, user.password), LOCK_SECONDS);
    expect(await locks(user.userId)).toEqual([{ action: 'user.current_password.locked', outcome: 'failure', error_code: 'identity.too_many_password_attempts', target_id: user.userId }]);

    // Nothing else changed: the password is the old one, sign-in is not locked, the other session lives.
    t.clock.advance(LOCK_SECONDS * 1000 - 1_000);
    expectBlocked(await changePassword(user, user.password), 1);
    await loginOverHttp(t, { email: user.email, password: user.password, tenantId: admin.tenantId });
    expect((await api({ accessToken: other.accessToken }, 'GET', '/api/v1/me')).status).toBe(200);

    t.clock.advance(1_000);
    expect((await changePassword(user, user.password)).status).toBe(204);
    await loginOverHttp(t, { email: user.email, password: NEW_PASSWORD, tenantId: admin.tenantId });
    expect(await locks(user.userId)).toHaveLength(1);
  });

  it('POST /me/mfa/disable counts against the same per-user lock; two-step verification stays on while locked', async () => {
    const user = await loginAsPlainUser(t, admin);
    const bystander = await loginAsPlainUser(t, admin);
    await enrollTotp(t, admin.tenantId, user.userId);
    await guessTenTimes(() => disableMfa(user, 'not my password'));
    expectBlocked(await disableMfa(user, user.password), LOCK_SECONDS);
    expectBlocked(await changePassword(user, user.password), LOCK_SECONDS);
    expect((await api<{ enabled: boolean }>(user, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(true);
    expect(await locks(user.userId)).toHaveLength(1);
    // Another user of the tenant guesses under their own count.
    expectWrong(await disableMfa(bystander, 'not my password'));

    t.clock.advance(LOCK_SECONDS * 1000);
    expect((await disableMfa(user, user.password)).status).toBe(204);
    expect((await api<{ enabled: boolean }>(user, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(false);
  });

  it('the right password clears the count: nine failures, a success, then guessing starts over', async () => {
    const user = await loginAsPlainUser(t, admin);
    for (let i = 1; i <= 9; i++) {
      expectWrong(await changePassword(user, 'not my password'));
      t.clock.advance(61_000);
    }
    expect((await changePassword(user, user.password)).status).toBe(204);
    for (let i = 1; i <= 4; i++) expectWrong(await changePassword(user, 'not my password'));
    expectBlocked(await changePassword(user, NEW_PASSWORD, 'saffron orchard drifting 4'), 1);
    t.clock.advance(1_000);
    expect((await changePassword(user, NEW_PASSWORD, 'saffron orchard drifting 4')).status).toBe(204);
    expect(await locks(user.userId)).toHaveLength(0);
  });
});
