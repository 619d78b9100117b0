import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { loginAsAdmin, loginAsPlainUser, type LoggedIn } from '../../../test/support/login.js';
import { call } from '../../../test/support/sessions-http.js';
import { createKeysService } from '../keys/index.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const partsOf = (token: string) => token.split('.').map((p, i) => (i < 2 ? (JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>) : p)) as [Record<string, unknown>, Record<string, unknown>, string];

// JWT attacks (RFC 8725 §2–3): every forged, altered or misplaced token is refused with `invalid_token`
// (RFC 8725 JSON Web Token Best Current Practices).
describe.each(engines())('JWT attacks on the access token [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let user: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
    user = await loginAsPlainUser(t, admin);
  });
  afterAll(() => t.close());

  async function refused(token: string) {
    const r = await call(t, 'GET', '/api/v1/me/sessions', { token });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_token');
    expect(r.response.headers.get('x-request-id')).toBeTruthy();
  }

  /** A token signed with our real current key, claims as given: proves the claim checks, not the signature. */
  async function signed(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
    const key = await t.app.services.keys.currentSigningKey();
    const [, payload] = partsOf(user.accessToken);
    const now = Math.floor(t.clock.now().getTime() / 1000);
    // Fresh times by default, so each case is refused for the one thing it changes.
    return new SignJWT({ ...payload, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey);
  }

  it('accepts the genuine token (control)', async () => {
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: user.accessToken })).status).toBe(200);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: await signed({}) })).status).toBe(200);
  });

  it('refuses alg "none" (RFC 8725 §2.1, §3.1)', async () => {
    const [header, payload] = partsOf(user.accessToken);
    await refused(`${b64({ ...header, alg: 'none' })}.${b64(payload)}.`);
    await refused(`${b64({ ...header, alg: 'none' })}.${b64(payload)}.AAAA`);
    await refused(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(payload)}.`);
  });

  it('refuses HS256 signed with our public key as the HMAC secret (RFC 8725 §2.1 algorithm confusion)', async () => {
    const [header, payload] = partsOf(user.accessToken);
    const jwks = (await call(t, 'GET', '/.well-known/jwks.json')).body;
    const pem = (await t.app.services.keys.verificationKeys()).get(header.kid as string)!.publicKey.export({ type: 'spki', format: 'pem' });
    for (const secret of [pem, JSON.stringify(jwks.keys[0])]) {
      const input = `${b64({ ...header, alg: 'HS256' })}.${b64(payload)}`;
      await refused(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`);
    }
  });

  it('refuses an unknown kid, and a key embedded in the header (jwk / jku)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const [, payload] = partsOf(user.accessToken);
    await refused(await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'attacker', typ: 'at+jwt' }).sign(privateKey));
    const jwk = publicKey.export({ format: 'jwk' });
    const realKid = partsOf(user.accessToken)[0].kid as string;
    await refused(await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: realKid, typ: 'at+jwt', jwk: { ...jwk, kty: 'RSA' } }).sign(privateKey));
    await refused(await signed({}, { jku: 'https://attacker.example/jwks.json' }));
  });

  it('refuses an expired token, and one not yet valid', async () => {
    const now = Math.floor(t.clock.now().getTime() / 1000);
    await refused(await signed({ exp: now - 1 }));
    await refused(await signed({ exp: now }));
    await refused(await signed({ nbf: now + 3600 }));
    await refused(await signed({ iat: now + 3600 }));
    await refused(await signed({ exp: 'never' }));
  });

  it('an access token stops working when it expires, even if it was cached as verified', async () => {
    const fresh = await loginAsPlainUser(t, admin);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: fresh.accessToken })).status).toBe(200);
    t.clock.advance(301_000);
    await refused(fresh.accessToken);
  });

  it('refuses a wrong issuer and a wrong token type', async () => {
    await refused(await signed({ iss: 'https://evil.example' }));
    await refused(await signed({ iss: undefined }));
    await refused(await signed({}, { typ: 'JWT' }));
    await refused(await signed({}, { typ: 'tessera-mfa+jwt' }));
  });

  it('refuses a tampered payload and a tampered header', async () => {
    const fresh = await loginAsPlainUser(t, admin);
    const [header, payload, signature] = fresh.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown> & { exp: number };
    await refused(`${header}.${b64({ ...claims, sub: admin.userId })}.${signature}`);
    await refused(`${header}.${b64({ ...claims, exp: claims.exp + 3600 })}.${signature}`);
    await refused(`${b64({ ...(JSON.parse(Buffer.from(header!, 'base64url').toString()) as Record<string, unknown>), typ: 'JWT' })}.${payload}.${signature}`);
    await refused(`${header}.${payload}.${signature!.slice(0, -4)}AAAA`);
    await refused(`${header}.${payload}`);
    await refused(`${header}.${payload}.${signature}.extra`);
    await refused(`Bearer ${fresh.accessToken}`);
    await refused('');
  });

  it("refuses a token pointing at another tenant's account or session", async () => {
    const other = await loginAsAdmin(t, { tenantName: 'Other' });
    const [, otherClaims] = partsOf(other.accessToken);
    // Control: the same forging helper with nothing changed is accepted, so each refusal below is the change's.
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: await signed({}) })).status).toBe(200);
    // Our own signature, another tenant's session id under this tenant: the session read finds nothing.
    await refused(await signed({ sid: otherClaims.sid }));
    await refused(await signed({ acc: other.accountId }));
    await refused(await signed({ tid: other.tenantId }));
    await refused(await signed({ sub: other.userId }));
    // The other tenant's genuine token with this tenant swapped in: the signature no longer matches.
    const [h, , s] = other.accessToken.split('.');
    await refused(`${h}.${b64({ ...otherClaims, tid: admin.tenantId, acc: admin.accountId })}.${s}`);
  });

  it('accepts a token signed with a key another instance rotated in, before this instance reloads its key set', async () => {
    // Another instance (or `tessera keys rotate`) adds a key; this instance still holds its cached set.
    const elsewhere = createKeysService({ db: t.app.db, clock: t.clock, master: t.masterKeys, signingAlg: 'ES256', accessTokenTtlSeconds: 300 });
    const { kid } = await elsewhere.rotateSigningKey('ES256');
    expect((await t.app.services.keys.verificationKeys()).has(kid)).toBe(false);
    const key = await elsewhere.currentSigningKey();
    const [, payload] = partsOf(user.accessToken);
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const token = await new SignJWT({ ...payload, iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(key.privateKey);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token })).status).toBe(200);
    // The kid is pinned to ES256: the same kid with RS256 is still refused.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await refused(await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).sign(rsa));
  });

  it('answers a missing or non-Bearer Authorization with invalid_token', async () => {
    expect((await call(t, 'GET', '/api/v1/me/sessions')).body.error.code).toBe('invalid_token');
    const basic = await call(t, 'GET', '/api/v1/me/sessions', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.body.error.code).toBe('invalid_token');
  });
});
