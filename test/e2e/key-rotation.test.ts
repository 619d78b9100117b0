import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { issueToken } from '../../src/features/sessions/tokens.js';
import { engines } from '../support/databases.js';
import { startSecondInstance, startTestApp, type TestApp } from '../support/app.js';
import { errorCode, requestJson } from '../support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../support/login.js';

type SigningKey = Awaited<ReturnType<App['services']['keys']['currentSigningKey']>>;

/**
 * Key rotation while sessions are live, on two app instances sharing one database and one clock:
 * - a live access token survives `keys rotate` on every instance (the retired key stays published for the
 *   token lifetime plus a margin);
 * - once a retired key's publication window has ended it verifies nothing on any instance, whatever either
 *   instance cached (verified tokens, its key set, keys found by kid). A token minted with a leaked retired
 *   key and a far expiry stands for the attack.
 */
describe.each(engines())('signing key rotation mid-session [%s]', (engine) => {
  let a: TestApp;
  let b: Awaited<ReturnType<typeof startSecondInstance>>;
  let admin: LoggedIn;

  beforeAll(async () => {
    a = await startTestApp(engine);
    b = await startSecondInstance(a);
    admin = await loginAsAdmin(a);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const me = (url: string, token: string) => requestJson(url, 'GET', '/api/v1/me', { token });

  /** An access token for the admin's session signed with `key`, valid for an hour: what a holder of a leaked key could mint. */
  async function minted(key: SigningKey): Promise<string> {
    const now = Math.floor(a.clock.now().getTime() / 1000);
    const claims = JSON.parse(Buffer.from(admin.accessToken.split('.')[1]!, 'base64url').toString()) as { sub: string; tid: string; acc: string; sid: string; amr: string[] };
    const settings = { issuer: a.config.publicUrl, audience: a.config.tokenAudience };
    return (await issueToken('access', key, settings, { sub: claims.sub, tid: claims.tid, acc: claims.acc, sid: claims.sid, amr: claims.amr }, now, 3600)).token;
  }

  async function expectAccepted(token: string, where: string[] = [a.url, b.url]) {
    for (const url of where) expect((await me(url, token)).status, url).toBe(200);
  }
  async function expectRefused(token: string, where: string[] = [a.url, b.url]) {
    for (const url of where) {
      const res = await me(url, token);
      expect(res.status, url).toBe(401);
      expect(errorCode(res)).toBe('invalid_token');
    }
  }

  it('a live token survives rotation; a retired key verifies nothing once its window ends, on both instances', async () => {
    const ttlMs = a.config.accessTokenTtlSeconds * 1000;
    const k1 = await a.app.services.keys.currentSigningKey();
    const leaked1 = await minted(k1);
    await expectAccepted(admin.accessToken);

    // `tessera keys rotate` (the CLI calls this service) on instance A.
    const rotatedAt = a.clock.now().getTime();
    await a.app.services.keys.rotateSigningKey();
    await expectAccepted(admin.accessToken);
    await expectAccepted(leaked1);

    // A token signed with the new key is verified on B, whose key set predates the rotation (found by kid).
    const second = await loginOverHttp(a, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    const k2 = await a.app.services.keys.currentSigningKey();
    expect(k2.kid).not.toBe(k1.kid);
    await expectAccepted(second.accessToken);

    // A second rotation retires k2, which B knows only from its by-kid lookup.
    await a.app.services.keys.rotateSigningKey();
    const leaked2 = await minted(k2);

    // Just before k1's window ends (publish_until = rotation + token lifetime + 60 s), both instances load
    // a fresh key set that names that end; k1 still verifies.
    a.clock.set(rotatedAt + ttlMs + 40_000);
    await expectAccepted(leaked1);
    // 21 s later, within every cache's lifetime: k1's window has ended, and the cached entries know it.
    a.clock.set(rotatedAt + ttlMs + 61_000);
    await expectRefused(leaked1);

    // Past k2's window too: B's by-kid entry for k2, found while k2 was current, no longer stands.
    a.clock.advance(ttlMs + 61_000);
    await expectRefused(leaked2);
    // The live session itself still works with a token from the current key.
    const third = await loginOverHttp(a, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    await expectAccepted(third.accessToken);
  });
});
