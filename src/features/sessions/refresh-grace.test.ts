import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { loginAsAdmin, loginAsPlainUser, type LoggedIn } from '../../../test/support/login.js';
import { auditActions, call } from '../../../test/support/sessions-http.js';

// RFC 9700 §4.14.2: a rotated refresh token presented again is a reuse (the session ends), except within the
// grace window TESSERA_REFRESH_GRACE_SECONDS after its rotation, inclusive, where the same client racing
// itself gets the same successor. Set to 20 here (not the default 10) so the setting is what is tested; the
// fixed clock puts each repeat exactly on its second.
const GRACE_SECONDS = 20;

describe.each(engines())('refresh grace window boundary [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine, { env: { TESSERA_REFRESH_GRACE_SECONDS: String(GRACE_SECONDS) } });
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t?.close());

  /** Logs a user in, rotates their refresh token once, then presents the spent token again `seconds` later. */
  async function repeatAfter(seconds: number) {
    const me = await loginAsPlainUser(t, admin);
    const rotated = await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie });
    expect(rotated.status).toBe(200);
    t.clock.advance(seconds * 1000);
    const repeat = await call(t, 'POST', '/auth/refresh', { cookie: me.refreshCookie });
    return { rotated, repeat };
  }

  it(`a repeat ${GRACE_SECONDS - 1} s after the rotation gets the same successor`, async () => {
    const { rotated, repeat } = await repeatAfter(GRACE_SECONDS - 1);
    expect(repeat.status).toBe(200);
    expect(repeat.refreshCookie).toBe(rotated.refreshCookie);
  });

  it(`a repeat exactly ${GRACE_SECONDS} s after the rotation still gets the same successor (the window is inclusive)`, async () => {
    const { rotated, repeat } = await repeatAfter(GRACE_SECONDS);
    expect(repeat.status).toBe(200);
    expect(repeat.refreshCookie).toBe(rotated.refreshCookie);
    // The successor is live, and the session with it.
    expect((await call(t, 'POST', '/auth/refresh', { cookie: rotated.refreshCookie })).status).toBe(200);
  });

  it(`a repeat ${GRACE_SECONDS + 1} s after the rotation is a reuse: refused, the session revoked, the event audited`, async () => {
    const { rotated, repeat } = await repeatAfter(GRACE_SECONDS + 1);
    expect(repeat.status).toBe(401);
    expect(repeat.body.error.code).toBe('sessions.refresh_token_invalid');
    expect((await call(t, 'POST', '/auth/refresh', { cookie: rotated.refreshCookie })).body.error.code).toBe('sessions.refresh_token_invalid');
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: rotated.body.accessToken })).body.error.code).toBe('invalid_token');
    const reuses = (await auditActions(t, admin.tenantId)).filter((e) => e.action === 'auth.refresh.reuse_detected' && e.target_id === rotated.body.sessionId);
    expect(reuses).toEqual([{ action: 'auth.refresh.reuse_detected', outcome: 'failure', error_code: 'sessions.refresh_token_invalid', target_id: rotated.body.sessionId }]);
  });
});
