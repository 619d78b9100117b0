import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { authHeaders, loginAsAdmin } from '../../../test/support/login.js';

// RFC 7519 §4.1.3: with TESSERA_TOKEN_AUDIENCE set, access tokens carry it and are accepted only with it.
describe.each(engines())('access token audience [%s]', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(engine, { env: { TESSERA_TOKEN_AUDIENCE: 'https://api.example.com' } });
  });
  afterAll(() => t.close());

  it('issues access tokens for the configured audience and accepts them', async () => {
    const admin = await loginAsAdmin(t);
    expect(decodeJwt(admin.accessToken).aud).toBe('https://api.example.com');
    const res = await fetch(`${t.url}/api/v1/me`, { headers: authHeaders(admin, false) });
    expect(res.status).toBe(200);
  });
});
