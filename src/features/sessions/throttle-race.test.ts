import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser } from '../../../test/support/login.js';
import { type Answer, auditActions, call, enrollTotp, totpCode } from '../../../test/support/sessions-http.js';

const LOCK_MS = 15 * 60_000;

/** Counts the calls of one method of a service object of the running app (the object the features were built with). */
function counting<T extends object>(target: T, ...methods: (keyof T & string)[]): { readonly count: number; reset(): void } {
  let count = 0;
  for (const name of methods) {
    const original = target[name] as (...args: unknown[]) => unknown;
    (target as Record<string, unknown>)[name] = (...args: unknown[]) => {
      count++;
      return original.apply(target, args);
    };
  }
  return {
    get count() {
      return count;
    },
    reset() {
      count = 0;
    },
  };
}

const statuses = (answers: Answer[]) => answers.map((a) => a.status);
const admittedOf = (answers: Answer[]) => answers.filter((a) => a.status !== 429);

// Attack: a burst of guesses sent at once, so that every one passes a "blocked?" check made before any of
// them is counted (check-then-count, CWE-367). Rule (DESIGN §4, OWASP Authentication Cheat Sheet): each
// attempt is reserved atomically before its secret is checked, so of N parallel guesses only those the
// policy admits (3 free, then the 4th sets a 1 s wait; one per wait after that; the 10th locks for 15
// minutes) reach verification, and the right secret is refused while locked.
// Real parallelism needs PostgreSQL with a pool > 1 (PGlite serializes every statement: it proves nothing here).
describe.skipIf(!engines().includes('postgres'))('parallel guesses are throttled atomically [postgres]', () => {
  let t: TestApp;
  let admin: LoggedIn;
  let hashes: { readonly count: number; reset(): void };
  let codes: { readonly count: number; reset(): void };

  beforeAll(async () => {
    // Requests name their address in X-Forwarded-For (trusted from loopback), one per test, so that the
    // per-address count of one test never blocks another. Access tokens outlive the 15-minute lock. The login
    // line takes every burst of one address (login-admission.ts refuses past 8 by default, before the throttle),
    // so that all 30 guesses reach the throttle under test.
    t = await startTestApp('postgres', { env: { TESSERA_TRUST_PROXY: '127.0.0.1', TESSERA_ACCESS_TOKEN_TTL: '3600', TESSERA_LOGIN_QUEUE_PER_ADDRESS: '64' } });
    expect(t.database.config.poolMax).toBeGreaterThan(1);
    admin = await loginAsAdmin(t);
    hashes = counting(t.app.services.passwords, 'verify', 'verifyDummy');
    codes = counting(t.app.services.mfa, 'verifyLoginFactor');
  });
  afterAll(() => t?.close());

  const burst = (n: number, send: (i: number) => Promise<Answer>) => Promise.all(Array.from({ length: n }, (_, i) => send(i)));

  it('password login: 30 wrong at once reach 4 verifications; waves of 30 verify one each until the lock; then 30 wrong + the right one at once are all refused unchecked', async () => {
    const user = await loginAsPlainUser(t, admin);
    const from = { 'x-forwarded-for': '198.51.100.7' };
    const login = (password: string) => call(t, 'POST', '/auth/login', { body: { email: user.email, password, tenantId: admin.tenantId }, headers: from });

    // 3 free + the 4th (which sets the 1 s wait) are checked, no more.
    hashes.reset();
    const first = await burst(30, (i) => login(`wrong ${i}`));
    expect(hashes.count).toBe(4);
    expect(statuses(first).filter((s) => s === 401)).toHaveLength(4);
    expect(statuses(first).filter((s) => s === 429)).toHaveLength(26);
    // Then each wait admits exactly one attempt of a wave: the 5th … the 10th, which locks.
    for (let attempt = 5; attempt <= 10; attempt++) {
      t.clock.advance(61_000);
      hashes.reset();
      const wave = await burst(30, (i) => login(`wrong ${attempt}.${i}`));
      expect(hashes.count).toBe(1);
      expect(admittedOf(wave).map((a) => a.status)).toEqual([401]);
    }
    hashes.reset();
    const locked = await burst(31, (i) => login(i === 15 ? user.password : `wrong 11.${i}`));
    expect(statuses(locked)).toEqual(Array(31).fill(429));
    expect(locked[15]!.body.error.code).toBe('sessions.too_many_attempts');
    expect(Number(locked[15]!.response.headers.get('retry-after'))).toBe(15 * 60);
    expect(hashes.count).toBe(0);
    const events = (await auditActions(t, admin.tenantId)).filter((e) => e.target_id === user.userId);
    expect(events.filter((e) => e.action === 'auth.login.locked')).toHaveLength(1);
    // The first refusal of the window, audited once in the user's tenant, however many followed.
    expect(events.filter((e) => e.action === 'auth.login.throttled')).toHaveLength(1);

    t.clock.advance(LOCK_MS);
    expect((await login(user.password)).status).toBe(200);
  });

  it('MFA challenge: 60 parallel TOTP guesses reach 4 code checks; waves of 60 check one each until the lock; the right code is then refused', async () => {
    const user = await loginAsPlainUser(t, admin);
    const { secret } = await enrollTotp(t, admin.tenantId, user.userId);
    const from = { 'x-forwarded-for': '198.51.100.8' };
    // Challenges live 5 minutes; the lock takes longer to reach, so each wave starts from a fresh one.
    const challenge = async () => {
      const r = await call(t, 'POST', '/auth/login', { body: { email: user.email, password: user.password, tenantId: admin.tenantId }, headers: from });
      expect(r.body.status).toBe('mfa_required');
      return r.body.challengeToken;
    };
    const right = () => totpCode(t, secret);
    const wrongCode = (i: number) => {
      const code = String(100000 + i);
      return code === right() ? '999999' : code;
    };
    const guess = (challengeToken: string, code: string) => call(t, 'POST', '/auth/login/mfa', { body: { challengeToken, code }, headers: from });

    let token = await challenge();
    codes.reset();
    const first = await burst(60, (i) => guess(token, wrongCode(i)));
    expect(codes.count).toBe(4);
    expect(statuses(first).filter((s) => s === 401)).toHaveLength(4);
    expect(statuses(first).filter((s) => s === 429)).toHaveLength(56);
    for (let attempt = 5; attempt <= 10; attempt++) {
      t.clock.advance(61_000);
      token = await challenge();
      codes.reset();
      const wave = await burst(60, (i) => guess(token, wrongCode(i + attempt * 60)));
      expect(codes.count).toBe(1);
      expect(admittedOf(wave).map((a) => a.body.error.code)).toEqual(['sessions.invalid_mfa_code']);
    }
    t.clock.advance(30_000);
    token = await challenge();
    codes.reset();
    const locked = await guess(token, right());
    expect(locked.status).toBe(429);
    expect(codes.count).toBe(0);
    const events = (await auditActions(t, admin.tenantId)).filter((e) => e.target_id === user.userId);
    expect(events.filter((e) => e.action === 'auth.mfa.failed')).toHaveLength(10);
    expect(events.filter((e) => e.action === 'auth.login.locked')).toHaveLength(1);
    // The first refusal of the window, audited once in the user's tenant, however many followed.
    expect(events.filter((e) => e.action === 'auth.login.throttled')).toHaveLength(1);

    t.clock.advance(LOCK_MS);
    token = await challenge();
    expect((await guess(token, right())).status).toBe(200);
  });

  it('POST /me/password: 40 parallel wrong current passwords reach 4 checks; waves of 40 check one each until the lock; the right one is then refused', async () => {
    const user = await loginAsPlainUser(t, admin);
    const change = (currentPassword: string) => call(t, 'POST', '/api/v1/me/password', { token: user.accessToken, body: { currentPassword, newPassword: 'amber lantern meadow 9' } });

    hashes.reset();
    const first = await burst(40, (i) => change(`not my password ${i}`));
    expect(hashes.count).toBe(4);
    expect(statuses(first).filter((s) => s === 403)).toHaveLength(4);
    expect(first.filter((a) => a.status === 429).every((a) => a.body.error.code === 'identity.too_many_password_attempts')).toBe(true);
    for (let attempt = 5; attempt <= 10; attempt++) {
      t.clock.advance(61_000);
      hashes.reset();
      const wave = await burst(40, (i) => change(`not my password ${attempt}.${i}`));
      expect(hashes.count).toBe(1);
      expect(statuses(admittedOf(wave))).toEqual([403]);
    }
    hashes.reset();
    const locked = await change(user.password);
    expect(locked.status).toBe(429);
    expect(hashes.count).toBe(0);
    const events = (await auditActions(t, admin.tenantId)).filter((e) => e.target_id === user.userId);
    expect(events.filter((e) => e.action === 'user.current_password.locked')).toHaveLength(1);
    expect(events.filter((e) => e.action === 'user.current_password.throttled')).toHaveLength(1);
  });
});
