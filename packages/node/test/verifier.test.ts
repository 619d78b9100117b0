import { createPublicKey } from 'node:crypto';
import { decodeProtectedHeader, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { authorizationRequest, CookieJar, registerApp, relyingParty, signIn } from '../../../test/support/tessera-op.js';
import { freePort } from '../../../test/support/user-agent.js';
import * as oidc from 'openid-client';
import { TesseraError, TokenError } from '../src/errors.js';
import { createVerifier } from '../src/verifier.js';
import { API_AUDIENCE, signWithTesseraKey } from './support.js';

/** The rejection's code, or 'accepted'. */
const outcome = (work: Promise<unknown>) =>
  work.then(
    () => 'accepted',
    (error: unknown) => {
      if (error instanceof TesseraError) return error.code;
      throw error;
    },
  );

/**
 * The SDK's access-token verifier against a running Tessera: its discovery, its JWKS, and tokens it issued (its own
 * session access tokens are RFC 9068 `at+jwt` JWTs signed with the keys the OpenID Provider signs with), plus tokens
 * signed with its key for the cases a sign-in cannot produce.
 */
describe.each(engines())('@tessera-iam/node verifier against a running Tessera [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    const port = await freePort();
    t = await startTestApp(engine, { port, env: { PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_TOKEN_AUDIENCE: API_AUDIENCE } });
    // oidc-provider stamps interactions with the real time; Tessera's sessions follow the test clock.
    t.clock.set(new Date());
    admin = await loginAsAdmin(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  const verifier = (options: Partial<Parameters<typeof createVerifier>[0]> = {}) => createVerifier({ issuer: t.url, audience: API_AUDIENCE, ...options });

  it("accepts a token Tessera issued, with the issuer's algorithm from discovery; the claims name the user, account and session", async () => {
    const claims = await verifier().verifyAccessToken(admin.accessToken);
    expect(claims).toMatchObject({ iss: t.url, sub: admin.userId, acc: admin.accountId, tid: admin.tenantId, aud: API_AUDIENCE });
    expect(typeof claims.sid).toBe('string');
    // A trailing slash on the configured issuer is the same issuer.
    expect((await verifier({ issuer: `${t.url}/` }).verifyAccessToken(admin.accessToken)).sub).toBe(admin.userId);
  });

  it("accepts the OpenID Provider's JWT access token for the application's API (RFC 9068 claims), and only for that API", async () => {
    const callback = 'https://hosts.example/callback';
    const app = await registerApp(t, admin, { name: 'Hosts', type: 'web', redirectUris: [callback], scopes: ['openid', 'permissions'], resources: [API_AUDIENCE] });
    const rp = await relyingParty(t, app);
    const request = await authorizationRequest(rp, { redirect_uri: callback, scope: 'openid permissions' });
    const session = await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    const tokens = await oidc.authorizationCodeGrant(rp, await signIn(t, new CookieJar(), request, session), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    const claims = await verifier().verifyAccessToken(tokens.access_token);
    expect(claims).toMatchObject({ iss: t.url, aud: API_AUDIENCE, sub: admin.userId, client_id: app.clientId, acc: admin.accountId });
    expect(claims.scope).toContain('permissions');
    expect(claims.permissions).toContain('applications.manage');
    expect(typeof claims.jti).toBe('string');
    expect(typeof claims.sid).toBe('string');
    expect(await outcome(verifier({ audience: 'https://other-api.example' }).verifyAccessToken(tokens.access_token))).toBe('token_wrong_audience');
    // The ID token of the same sign-in is not an access token.
    expect(await outcome(verifier({ audience: app.clientId }).verifyAccessToken(tokens.id_token!))).toBe('token_wrong_type');
  });

  it('refuses an expired token (a real one, issued an hour ago)', async () => {
    const now = t.clock.now();
    t.clock.set(now.getTime() - 3_600_000);
    let old: { accessToken: string };
    try {
      old = await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    } finally {
      t.clock.set(now);
    }
    expect(await outcome(verifier().verifyAccessToken(old.accessToken))).toBe('token_expired');
  });

  it('refuses a token for another audience, and one from another issuer signed with the same key', async () => {
    expect(await outcome(verifier({ audience: 'https://other-api.example' }).verifyAccessToken(admin.accessToken))).toBe('token_wrong_audience');
    expect(await outcome(verifier().verifyAccessToken(await signWithTesseraKey(t, { iss: 'https://evil.example' })))).toBe('token_wrong_issuer');
    expect(await outcome(verifier().verifyAccessToken(await signWithTesseraKey(t, { aud: ['https://x.example', API_AUDIENCE] })))).toBe('accepted');
  });

  it('refuses alg confusion: HS256 keyed with the public key, alg none, and an algorithm the issuer does not sign with', async () => {
    const { kid } = decodeProtectedHeader(admin.accessToken);
    const published = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: (Record<string, unknown> & { kid: string })[] };
    const jwk = published.keys.find((k) => k.kid === kid)!;
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: admin.userId, iss: t.url, aud: API_AUDIENCE, iat: now, exp: now + 300 };
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(String(pem)));
    expect(await outcome(verifier().verifyAccessToken(hs256))).toBe('token_algorithm_not_allowed');
    const none = new UnsecuredJWT(claims).encode();
    expect(await outcome(verifier().verifyAccessToken(none))).toBe('token_algorithm_not_allowed');
    // Pinned algorithms: a real RS256 token is refused by a verifier that accepts only ES256.
    expect(await outcome(verifier({ algorithms: ['ES256'] }).verifyAccessToken(admin.accessToken))).toBe('token_algorithm_not_allowed');
    // And the SDK refuses to be configured with them at all.
    for (const algorithms of [['HS256'], ['none'], ['RS256', 'HS512'], []]) {
      expect(() => verifier({ algorithms }), algorithms.join()).toThrow(expect.objectContaining({ code: 'configuration_invalid' }) as Error);
    }
  });

  it('refuses a tampered token, a token of another type, and junk', async () => {
    const [h, p, s] = admin.accessToken.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url')}.${s}`;
    expect(await outcome(verifier().verifyAccessToken(forged))).toBe('token_invalid_signature');
    // An ID token or any JWT that is not typed as an access token (RFC 9068 §4).
    expect(await outcome(verifier().verifyAccessToken(await signWithTesseraKey(t, {}, { typ: 'JWT' })))).toBe('token_wrong_type');
    expect(await outcome(verifier().verifyAccessToken(await signWithTesseraKey(t, {}, { typ: undefined })))).toBe('token_wrong_type');
    expect(await outcome(verifier().verifyAccessToken('not-a-jwt'))).toBe('token_malformed');
    expect(await outcome(verifier().verifyAccessToken(''))).toBe('token_missing');
    const future = Math.floor(Date.now() / 1000) + 3600;
    expect(await outcome(verifier().verifyAccessToken(await signWithTesseraKey(t, { nbf: future, exp: future + 300 })))).toBe('token_not_yet_valid');
  });

  it('an unknown kid is refused during the cooldown; after `keys rotate` a new kid is accepted once the JWKS is fetched again', async () => {
    const patient = verifier({ jwksCooldownMs: 600_000 });
    const eager = verifier({ jwksCooldownMs: 0 });
    // Both have fetched the JWKS before the rotation.
    expect(await outcome(patient.verifyAccessToken(admin.accessToken))).toBe('accepted');
    expect(await outcome(eager.verifyAccessToken(admin.accessToken))).toBe('accepted');
    const before = decodeProtectedHeader(admin.accessToken).kid;
    const { kid } = await t.app.services.keys.rotateSigningKey();
    const fresh = await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    expect(decodeProtectedHeader(fresh.accessToken).kid).toBe(kid);
    expect(kid).not.toBe(before);
    expect(await outcome(patient.verifyAccessToken(fresh.accessToken))).toBe('token_unknown_key');
    expect(await outcome(eager.verifyAccessToken(fresh.accessToken))).toBe('accepted');
    // The retired key is still published for its window: tokens signed before the rotation still verify.
    expect(await outcome(eager.verifyAccessToken(admin.accessToken))).toBe('accepted');
    // A kid Tessera never published is refused, not fetched for ever.
    expect(await outcome(eager.verifyAccessToken(await signWithTesseraKey(t, {}, { kid: 'made-up' })))).toBe('token_unknown_key');
  });

  it('refuses an issuer whose discovery document names another issuer', async () => {
    const elsewhere = createVerifier({ issuer: t.url.replace('127.0.0.1', 'localhost'), audience: API_AUDIENCE });
    const error = await elsewhere.verifyAccessToken(admin.accessToken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TesseraError);
    expect(error).not.toBeInstanceOf(TokenError);
    expect((error as TesseraError).code).toBe('discovery_failed');
  });
});
