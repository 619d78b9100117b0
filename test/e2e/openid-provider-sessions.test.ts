import * as jose from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { engines } from '../support/databases.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../support/login.js';
import { authorizationRequest, browse, CookieJar, finishWithSession, followOnServer, type RegisteredApp, registerApp, relyingParty, signIn, startInteraction, startOpTestApp } from '../support/tessera-op.js';

const CALLBACK = 'https://app.example/callback';

/**
 * The provider's sign-ins against Tessera's sessions and keys: prompt=login and max_age need a fresh sign-in
 * (OIDC Core §3.1.2.1), login_hint reaches the sign-in page, sign-ins are audited, and ID tokens follow a key rotation.
 */
describe.each(engines())('OpenID Provider sign-ins, sessions and keys [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let web: RegisteredApp;

  beforeAll(async () => {
    t = await startOpTestApp(engine);
    // The provider stamps its interactions with the real time; the sessions' auth_time follows the test clock.
    t.clock.set(new Date());
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    web = await registerApp(t, admin, { name: 'Web', type: 'web', redirectUris: [CALLBACK] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const freshSession = () => loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
  const auditOf = (action: string) =>
    t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['outcome', 'error_code', 'actor_id', 'target_id']).where('tenant_id', '=', admin.tenantId).where('action', '=', action).orderBy('seq').execute());

  it('prompt=login asks for a sign-in even with a provider session, and refuses a session older than the request', async () => {
    const rp = await relyingParty(t, web);
    const jar = new CookieJar();
    t.clock.set(new Date(Date.now() - 60_000));
    const old = await freshSession();
    await signIn(t, jar, await authorizationRequest(rp, { redirect_uri: CALLBACK }), old);
    const again = await authorizationRequest(rp, { redirect_uri: CALLBACK, prompt: 'login' });
    const { uid } = await startInteraction(t, jar, again.url);
    const stale = await finishWithSession(t, jar, uid, old);
    expect(stale.status).toBe(401);
    expect(stale.body).toMatchObject({ error: { code: 'openid_provider.reauthentication_required' } });
    // The new sign-in happens after the request (the test clock catches up with the provider's).
    t.clock.set(new Date(Date.now() + 1_000));
    const done = await finishWithSession(t, jar, uid, await freshSession());
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const tokens = await oidc.authorizationCodeGrant(rp, done.callback!, { pkceCodeVerifier: again.verifier, expectedState: again.state, expectedNonce: again.nonce });
    expect(tokens.claims()!.sub).toBe(admin.userId);
  });

  it('prompt=select_account sends a signed-in browser to the hosted sign-in to choose, then returns a code; with none it is refused', async () => {
    const rp = await relyingParty(t, web);
    const jar = new CookieJar();
    const session = await freshSession();
    await signIn(t, jar, await authorizationRequest(rp, { redirect_uri: CALLBACK }), session);
    // With a provider session and no prompt, a code comes back at once (the prompt=none test shows it); with
    // select_account (OIDC Core §3.1.2.1) the user is asked first.
    const choose = await authorizationRequest(rp, { redirect_uri: CALLBACK, prompt: 'select_account' });
    const { uid } = await startInteraction(t, jar, choose.url);
    const details = await browse(jar, `${t.url}/oidc/interaction/${uid}/details`);
    expect(details.status).toBe(200);
    expect(await details.json()).toMatchObject({ prompt: 'select_account' });
    const done = await finishWithSession(t, jar, uid, session);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const tokens = await oidc.authorizationCodeGrant(rp, done.callback!, { pkceCodeVerifier: choose.verifier, expectedState: choose.state, expectedNonce: choose.nonce });
    expect(tokens.claims()!.sub).toBe(admin.userId);
    // §3.1.2.1: "none" with any other value is an error; the application is told so, no code is issued.
    const silent = await authorizationRequest(rp, { redirect_uri: CALLBACK, prompt: 'none select_account' });
    const refused = await browse(jar, silent.url.href);
    const back = new URL(refused.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(CALLBACK);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('max_age: a session signed in longer ago than allowed must sign in again', async () => {
    const rp = await relyingParty(t, web);
    const session = await freshSession();
    t.clock.advance(120_000);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK, max_age: '60' });
    const jar = new CookieJar();
    const { uid } = await startInteraction(t, jar, request.url);
    expect((await finishWithSession(t, jar, uid, session)).status).toBe(401);
    const done = await finishWithSession(t, jar, uid, await freshSession());
    expect(done.status).toBe(200);
    const tokens = await oidc.authorizationCodeGrant(rp, done.callback!, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, maxAge: 60 });
    expect(tokens.claims()!.auth_time).toBeGreaterThan(0);
  });

  it('login_hint reaches the hosted sign-in; the sign-in is audited', async () => {
    const rp = await relyingParty(t, web);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK, login_hint: admin.email });
    const { signIn: page } = await startInteraction(t, new CookieJar(), request.url);
    expect(new URL(page, t.url).searchParams.get('login_hint')).toBe(admin.email);
    const before = (await auditOf('openid_provider.login')).length;
    await signIn(t, new CookieJar(), await authorizationRequest(rp, { redirect_uri: CALLBACK }), await freshSession());
    const events = await auditOf('openid_provider.login');
    expect(events.length).toBe(before + 1);
    expect(events.at(-1)).toMatchObject({ outcome: 'success', actor_id: admin.userId, target_id: web.id });
  });

  it('an interaction id from another browser, or made up, is refused without a redirect to the application', async () => {
    const rp = await relyingParty(t, web);
    const { uid } = await startInteraction(t, new CookieJar(), (await authorizationRequest(rp, { redirect_uri: CALLBACK })).url);
    const elsewhere = await finishWithSession(t, new CookieJar(), uid, await freshSession());
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body).toMatchObject({ error: { code: 'openid_provider.interaction_not_found' } });
    const madeUp = await browse(new CookieJar(), `${t.url}/oidc/interaction/not-a-real-interaction-id`);
    expect(madeUp.status).toBe(303);
    expect(madeUp.headers.get('location')).toBe('/login?error=openid_provider.interaction_not_found');
  });

  it('a third-party application asks for consent: JSON only, then the code; denying answers access_denied', async () => {
    const third = await registerApp(t, admin, { name: 'Partner', type: 'web', firstParty: false, redirectUris: [CALLBACK] });
    const rp = await relyingParty(t, third);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK });
    const jar = new CookieJar();
    const { uid } = await startInteraction(t, jar, request.url);
    const login = await browse(jar, `${t.url}/oidc/interaction/${uid}/login`, { method: 'POST', headers: { authorization: `Bearer ${(await freshSession()).accessToken}`, 'content-type': 'application/json' }, body: '{}' });
    const { redirectTo } = (await login.json()) as { redirectTo: string };
    const { response } = await followOnServer(t, jar, redirectTo);
    const consentPage = new URL(response.headers.get('location')!, t.url);
    const consentUid = consentPage.searchParams.get('interaction')!;
    const details = (await (await browse(jar, `${t.url}/oidc/interaction/${consentUid}/details`)).json()) as { prompt: string; clientName: string; firstParty: boolean };
    expect(details).toMatchObject({ prompt: 'consent', clientName: 'Partner', firstParty: false });
    // A cross-site form cannot send JSON: a form-encoded or text post is refused (OWASP CSRF Prevention).
    const form = await browse(jar, `${t.url}/oidc/interaction/${consentUid}/consent`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(form.status).toBe(415);
    const allowed = await browse(jar, `${t.url}/oidc/interaction/${consentUid}/consent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(allowed.status).toBe(200);
    const { url } = await followOnServer(t, jar, ((await allowed.json()) as { redirectTo: string }).redirectTo);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(url), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    expect(tokens.claims()!.sub).toBe(admin.userId);
    expect((await auditOf('openid_provider.consent')).at(-1)).toMatchObject({ outcome: 'success', actor_id: admin.userId, target_id: third.id });

    const declined = await authorizationRequest(rp, { redirect_uri: CALLBACK, prompt: 'consent' });
    const second = await startInteraction(t, jar, declined.url);
    const abort = await browse(jar, `${t.url}/oidc/interaction/${second.uid}/abort`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const back = await followOnServer(t, jar, ((await abort.json()) as { redirectTo: string }).redirectTo);
    expect(new URL(back.url).searchParams.get('error')).toBe('access_denied');
  });

  it('after a key rotation, ID tokens carry the new kid and verify against the published JWKS', async () => {
    const before = await t.app.services.keys.currentSigningKey();
    const { kid } = await t.app.services.keys.rotateSigningKey();
    expect(kid).not.toBe(before.kid);
    const rp = await relyingParty(t, web);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK });
    const jar = new CookieJar();
    const callback = await signIn(t, jar, request, await freshSession());
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    expect(jose.decodeProtectedHeader(tokens.id_token!).kid).toBe(kid);
    const jwks = jose.createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks.json`));
    await expect(jose.jwtVerify(tokens.id_token!, jwks, { issuer: t.url, audience: web.clientId })).resolves.toBeDefined();
    // The browser's provider session, from before, still answers prompt=none after the rotation.
    const silent = await authorizationRequest(rp, { redirect_uri: CALLBACK, prompt: 'none' });
    const { url } = await followOnServer(t, jar, silent.url.href);
    expect(new URL(url).searchParams.get('code')).toBeTruthy();
  });

  it('codes and tokens are stored only as hashes; expired artefacts are purged', async () => {
    const rp = await relyingParty(t, web);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK, scope: 'openid offline_access' });
    const callback = await signIn(t, new CookieJar(), request, await freshSession());
    const code = callback.searchParams.get('code')!;
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    const rows = await t.app.db.ownerWork((tx) => tx.selectFrom('oidc_provider_artifacts').select(['model', 'payload', 'tenant_id']).execute());
    const stored = JSON.stringify(rows);
    for (const secret of [code, tokens.access_token, tokens.refresh_token!]) expect(stored).not.toContain(secret);
    expect(rows.filter((r) => r.model === 'RefreshToken').every((r) => r.tenant_id === admin.tenantId)).toBe(true);
    t.clock.advance(400 * 86_400_000);
    expect(await t.app.services.openIdProvider.purgeExpired()).toBeGreaterThan(0);
    const left = await t.app.db.ownerWork((tx) => tx.selectFrom('oidc_provider_artifacts').select('model').execute());
    expect(left).toEqual([]);
  });
});
