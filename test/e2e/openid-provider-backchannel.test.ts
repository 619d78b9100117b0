import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GIVE_UP_MS } from '../../src/features/openid-provider/backchannel-logout.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { engines } from '../support/databases.js';
import { callApi } from '../support/http.js';
import { createPlainUser, type LoggedIn, loginAsAdmin, loginOverHttp } from '../support/login.js';
import { call } from '../support/sessions-http.js';
import { authorizationRequest, CookieJar, type RegisteredApp, registerApp, relyingParty, signIn } from '../support/tessera-op.js';
import { freePort } from '../support/user-agent.js';

const CALLBACK = 'https://app.example/callback';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A relying party's back-channel logout endpoint: records every POST (path, content type, body); a path may fail. */
async function startReceiver() {
  const received: { path: string; contentType: string; body: string }[] = [];
  const failing = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(failing.has(path) ? 500 : 200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    failing,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Waits (bounded) until `check` holds; no timing is asserted, only the outcome. */
async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * OpenID Connect Back-Channel Logout 1.0 from Tessera's OpenID Provider, over real HTTP: a receiver verifies each Logout
 * Token with jose against the JWKS, for every way a session ends.
 */
describe.each(engines())('back-channel logout [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let receiver: Receiver;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    receiver = await startReceiver();
    const port = await freePort();
    t = await startTestApp(engine, { port, env: { PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_APPLICATION_ALLOW_LOOPBACK: 'true' } });
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    jwks = createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks.json`));
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  let appCount = 0;
  async function app(path: string, extra: Record<string, unknown> = {}): Promise<RegisteredApp> {
    appCount += 1;
    return registerApp(t, admin, { name: `App ${appCount}`, type: 'web', redirectUris: [CALLBACK], backchannelLogoutUri: receiver.url(path), backchannelLogoutSessionRequired: true, ...extra });
  }

  async function signedIn(application: RegisteredApp, session: { accessToken: string }) {
    const rp = await relyingParty(t, application);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK, scope: 'openid' });
    const callback = await signIn(t, new CookieJar(), request, session);
    return oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
  }

  const freshAdminSession = () => loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
  const sessionIdOf = (session: { accessToken: string }) => decodeJwt(session.accessToken).sid as string;
  const outbox = () => t.app.db.ownerWork((tx) => tx.selectFrom('backchannel_logout_outbox').selectAll().execute());

  /** Checks one received delivery as a relying party must (§2.6): form post, signature, typ, and every claim. */
  async function verifyDelivery(delivery: { contentType: string; body: string }, expected: { clientId: string; sub: string; sid: string; idTokenSid?: unknown }) {
    expect(delivery.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(delivery.body);
    expect([...form.keys()]).toEqual(['logout_token']);
    const token = form.get('logout_token')!;
    const key = await t.app.services.keys.currentSigningKey();
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'logout+jwt', alg: key.alg, kid: key.kid });
    const { payload } = await jwtVerify(token, jwks, { issuer: t.url, audience: expected.clientId, typ: 'logout+jwt' });
    expect(payload).toMatchObject({ sub: expected.sub, sid: expected.sid, events: { [EVENT]: {} } });
    expect(payload.nonce).toBeUndefined();
    expect(typeof payload.jti).toBe('string');
    expect(typeof payload.iat).toBe('number');
    expect(payload.exp! > payload.iat!).toBe(true);
    if (expected.idTokenSid !== undefined) expect(payload.sid).toBe(expected.idTokenSid);
  }

  it('discovery advertises back-channel logout with sid', async () => {
    const doc = (await (await fetch(`${t.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
  });

  it('logout: the application that signed in during the session receives a valid Logout Token at once; one that did not receives nothing', async () => {
    const used = await app('/logout/used');
    await app('/logout/unused');
    const elsewhere = await app('/logout/elsewhere');
    const session = await freshAdminSession();
    const tokens = await signedIn(used, session);
    // The same user signed in to another application in another session: not this session's.
    await signedIn(elsewhere, await freshAdminSession());
    expect((await callApi(t, session, 'POST', '/auth/logout')).status).toBe(204);
    // Nobody runs a delivery pass here: the instance that ended the session attempts at once.
    await eventually(() => receiver.at('/logout/used').length > 0, 'the logout token');
    await verifyDelivery(receiver.at('/logout/used')[0]!, { clientId: used.clientId, sub: admin.userId, sid: sessionIdOf(session), idTokenSid: tokens.claims()!.sid });
    await t.app.services.openIdProvider.backchannel.deliver();
    expect(receiver.at('/logout/unused')).toEqual([]);
    expect(receiver.at('/logout/elsewhere')).toEqual([]);
    expect(receiver.at('/logout/used')).toHaveLength(1);
    expect(await outbox()).toEqual([]);
  });

  it("an administrator's revocation of a user's sessions, and the user's deactivation, each deliver", async () => {
    const application = await app('/admin/revoke');
    const email = `bcl-${Date.now()}@example.com`;
    const password = 'back channel password 42';
    const userId = await createPlainUser(t, admin, { email, password });

    const first = await loginOverHttp(t, { email, password, tenantId: admin.tenantId });
    await signedIn(application, first);
    const revoked = await callApi(t, admin, 'DELETE', `/api/v1/users/${userId}/sessions`);
    expect(revoked.status, JSON.stringify(revoked.body)).toBeLessThan(300);
    await eventually(() => receiver.at('/admin/revoke').length === 1, 'the revocation logout');
    await verifyDelivery(receiver.at('/admin/revoke')[0]!, { clientId: application.clientId, sub: userId, sid: sessionIdOf(first) });

    const second = await loginOverHttp(t, { email, password, tenantId: admin.tenantId });
    await signedIn(application, second);
    expect((await callApi(t, admin, 'PATCH', `/api/v1/users/${userId}`, { active: false })).status).toBe(200);
    await eventually(() => receiver.at('/admin/revoke').length === 2, 'the deactivation logout');
    await verifyDelivery(receiver.at('/admin/revoke')[1]!, { clientId: application.clientId, sub: userId, sid: sessionIdOf(second) });
  });

  it("an administrator's password reset, and a reused refresh token (RFC 9700 §4.14.2), each deliver", async () => {
    const application = await app('/reset-and-reuse');
    const email = `bcl-reset-${Date.now()}@example.com`;
    const password = 'back channel password 43';
    const userId = await createPlainUser(t, admin, { email, password });

    // A password reset by an administrator ends the user's sessions (the credential they signed in with is gone).
    const beforeReset = await loginOverHttp(t, { email, password, tenantId: admin.tenantId });
    await signedIn(application, beforeReset);
    const reset = await callApi(t, admin, 'POST', `/api/v1/users/${userId}/reset-password`, { password: 'a brand new password 44', mustChangePassword: false });
    expect(reset.status, JSON.stringify(reset.body)).toBeLessThan(300);
    await eventually(() => receiver.at('/reset-and-reuse').length === 1, 'the password-reset logout');
    await verifyDelivery(receiver.at('/reset-and-reuse')[0]!, { clientId: application.clientId, sub: userId, sid: sessionIdOf(beforeReset) });

    // A rotated refresh token presented again after the grace window: the whole session ends, and with it the app's.
    const stolen = await loginOverHttp(t, { email, password: 'a brand new password 44', tenantId: admin.tenantId });
    await signedIn(application, stolen);
    expect((await call(t, 'POST', '/auth/refresh', { cookie: stolen.refreshCookie })).status).toBe(200);
    t.clock.advance(60_000);
    expect((await call(t, 'POST', '/auth/refresh', { cookie: stolen.refreshCookie })).status).toBe(401);
    await eventually(() => receiver.at('/reset-and-reuse').length === 2, 'the refresh-reuse logout');
    await verifyDelivery(receiver.at('/reset-and-reuse')[1]!, { clientId: application.clientId, sub: userId, sid: sessionIdOf(stolen) });
  });

  it('a failing receiver is retried with backoff, then given up and audited (application.backchannel_logout_failed)', async () => {
    const application = await app('/failing');
    receiver.failing.add('/failing');
    const session = await freshAdminSession();
    await signedIn(application, session);
    expect((await callApi(t, session, 'POST', '/auth/logout')).status).toBe(204);
    await eventually(() => receiver.at('/failing').length >= 1, 'the first attempt');
    await eventually(async () => (await outbox()).some((e) => e.last_error === 'HTTP 500'), 'the failure recorded');
    // Not due again before its backoff; due after it.
    expect((await t.app.services.openIdProvider.backchannel.deliver()).failed).toBe(0);
    t.clock.advance(60_000);
    expect(await t.app.services.openIdProvider.backchannel.deliver()).toMatchObject({ failed: 1 });
    expect(receiver.at('/failing').length).toBe(2);
    t.clock.advance(GIVE_UP_MS);
    expect(await t.app.services.openIdProvider.backchannel.deliver()).toMatchObject({ abandoned: 1 });
    expect(await outbox()).toEqual([]);
    const events = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['details', 'target_id', 'outcome']).where('tenant_id', '=', admin.tenantId).where('action', '=', 'application.backchannel_logout_failed').execute());
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ target_id: application.id, outcome: 'failure', details: { clientId: application.clientId, sessionId: sessionIdOf(session), lastError: 'HTTP 500', attempts: 3 } });
    // The token is never recorded.
    expect(JSON.stringify(events)).not.toMatch(/eyJ/);
    receiver.failing.delete('/failing');
  });

  it('the registration: https or loopback http only; cleared with null', async () => {
    // The previous test moved the clock a day on: a new sign-in.
    const admin = { ...(await freshAdminSession()) };
    for (const uri of ['http://app.example/bcl', 'https://app.example/bcl#x', 'ftp://app.example/bcl']) {
      const res = await callApi<{ error: { code: string } }>(t, admin, 'POST', '/api/v1/applications', { name: 'Bad', type: 'web', redirectUris: [CALLBACK], backchannelLogoutUri: uri });
      expect(res.status, uri).toBe(400);
      expect(res.body.error.code).toBe('applications.invalid_config');
    }
    const ok = await callApi<{ id: string; backchannelLogoutUri: string; backchannelLogoutSessionRequired: boolean }>(t, admin, 'POST', '/api/v1/applications', { name: 'Good', type: 'web', redirectUris: [CALLBACK], backchannelLogoutUri: 'https://app.example/bcl' });
    expect(ok.body).toMatchObject({ backchannelLogoutUri: 'https://app.example/bcl', backchannelLogoutSessionRequired: false });
    const cleared = await callApi<{ backchannelLogoutUri: string | null }>(t, admin, 'PATCH', `/api/v1/applications/${ok.body.id}`, { backchannelLogoutUri: null });
    expect(cleared.body.backchannelLogoutUri).toBeNull();
  });
});

describe.each(engines())('back-channel logout to a private address [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    const port = await freePort();
    // No TESSERA_APPLICATION_ALLOW_LOOPBACK: the receiver on 127.0.0.1 is refused.
    t = await startTestApp(engine, { port, env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('is refused unless the operator allows it; the refusal names the setting', async () => {
    const application = await registerApp(t, admin, { name: 'Local', type: 'web', redirectUris: [CALLBACK], backchannelLogoutUri: receiver.url('/private') });
    const session = await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    const rp = await relyingParty(t, application);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK, scope: 'openid' });
    await signIn(t, new CookieJar(), request, session);
    expect((await callApi(t, session, 'POST', '/auth/logout')).status).toBe(204);
    const outbox = () => t.app.db.ownerWork((tx) => tx.selectFrom('backchannel_logout_outbox').select(['last_error']).execute());
    await eventually(async () => (await outbox()).some((e) => e.last_error?.startsWith('refused:') === true), 'the refusal');
    expect((await outbox())[0]!.last_error).toContain('TESSERA_APPLICATION_ALLOW_LOOPBACK');
    expect(receiver.received).toEqual([]);
  });
});
