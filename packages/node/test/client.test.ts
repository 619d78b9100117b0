import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { TesseraApiError } from '../src/errors.js';
import { createTesseraClient, retryAfterMs } from '../src/client.js';

const rejection = (work: Promise<unknown>) =>
  work.then(
    () => {
      throw new Error('expected a TesseraApiError');
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(TesseraApiError);
      return error as TesseraApiError;
    },
  );

/**
 * The SDK's typed REST client against a running Tessera. Failing answers are made by a hook on the real server that
 * answers 503 (with a Retry-After) to the next N requests of a path, the way a load balancer does while an instance
 * restarts; every attempt that reaches the server is counted.
 */
describe.each(engines())('@tessera-iam/node REST client against a running Tessera [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  const outage = { path: '', remaining: 0, retryAfter: '0', attempts: 0 };

  beforeAll(async () => {
    t = await startTestApp(engine, {
      beforeListen: (app) => {
        app.http.addHook('onRequest', async (request, reply) => {
          if (request.url.split('?')[0] !== outage.path) return;
          outage.attempts++;
          if (outage.remaining <= 0) return;
          outage.remaining--;
          return reply.code(503).header('retry-after', outage.retryAfter).send({ error: { code: 'service_unavailable', message: 'Restarting.' } });
        });
      },
    });
    admin = await loginAsAdmin(t);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => Object.assign(outage, { path: '', remaining: 0, retryAfter: '0', attempts: 0 }));

  it("calls the API with typed requests and answers; an error answer throws a TesseraApiError with the catalog's code", async () => {
    const client = createTesseraClient({ baseUrl: t.url, token: admin.accessToken });
    const { data } = await client.GET('/api/v1/me/access');
    expect(data!.accounts.map((a) => a.accountId)).toContain(admin.accountId);
    const missing = await rejection(client.GET('/api/v1/roles/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } }));
    expect(missing).toMatchObject({ status: 404, code: 'not_found' });
    expect(typeof missing.requestId).toBe('string');
    const invalid = await rejection(client.POST('/api/v1/roles', { body: { name: '' } }));
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_request' });
    const anonymous = await rejection(createTesseraClient({ baseUrl: t.url }).GET('/api/v1/me/access'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.code).toBe('invalid_token');
  });

  it('getToken is asked before every attempt', async () => {
    let asked = 0;
    const client = createTesseraClient({ baseUrl: t.url, getToken: () => (asked++, admin.accessToken), retry: { baseDelayMs: 1 } });
    Object.assign(outage, { path: '/api/v1/me/access', remaining: 1 });
    await client.GET('/api/v1/me/access');
    expect(asked).toBe(2);
  });

  it('a GET answered 503 with Retry-After is retried, honouring it, and succeeds; the retries are bounded', async () => {
    const client = createTesseraClient({ baseUrl: t.url, token: admin.accessToken, retry: { retries: 2 } });
    Object.assign(outage, { path: '/api/v1/me/access', remaining: 2, retryAfter: '1' });
    const { data } = await client.GET('/api/v1/me/access');
    expect(data!.accounts.length).toBeGreaterThan(0);
    expect(outage.attempts).toBe(3);
    // Three failures for two retries: the third 503 is the answer.
    Object.assign(outage, { remaining: 3, retryAfter: '0', attempts: 0 });
    expect(await rejection(client.GET('/api/v1/me/access'))).toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(outage.attempts).toBe(3);
  });

  it('a Retry-After beyond the longest wait ends the retries at once', async () => {
    const client = createTesseraClient({ baseUrl: t.url, token: admin.accessToken, retry: { retries: 3, maxDelayMs: 2_000 } });
    Object.assign(outage, { path: '/api/v1/me/access', remaining: 1, retryAfter: '3600' });
    expect(await rejection(client.GET('/api/v1/me/access'))).toMatchObject({ status: 503 });
    expect(outage.attempts).toBe(1);
  });

  it('a POST is never retried (it may have taken effect): one attempt, the 503 is thrown', async () => {
    const client = createTesseraClient({ baseUrl: t.url, token: admin.accessToken, retry: { retries: 3 } });
    Object.assign(outage, { path: '/api/v1/roles', remaining: 1 });
    expect(await rejection(client.POST('/api/v1/roles', { body: { name: 'Hosts viewer' } }))).toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(outage.attempts).toBe(1);
  });

  it('a network error is retried for a GET, and thrown after the last attempt', async () => {
    // A port nothing listens on: every attempt is refused at connect.
    let attempts = 0;
    const client = createTesseraClient({
      baseUrl: 'http://127.0.0.1:9',
      retry: { retries: 2, baseDelayMs: 1 },
      fetch: (request) => {
        attempts++;
        return fetch(request);
      },
    });
    await expect(client.GET('/api/v1/me/access')).rejects.toThrow(TypeError);
    expect(attempts).toBe(3);
  });

  it('reads Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3)', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000)).toBe(5_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});
