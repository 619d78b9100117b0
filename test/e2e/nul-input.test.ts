import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callApi, errorCode, requestJson } from '../support/http.js';
import { type LoggedIn, loginAsAdmin } from '../support/login.js';

// PostgreSQL text cannot hold U+0000: the one input guard refuses it with 400 for every route's body, query
// and params, so the database never answers a 500 for it.
describe.each(engines())('a NUL character in any input [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t?.close());

  function expectRefused(res: { status: number; body: unknown }, where: string) {
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(errorCode(res as never)).toBe('invalid_request');
    expect((res.body as { error: { message: string } }).error.message).toBe(`${where}: must not contain the NUL character (U+0000).`);
  }

  it('in a JSON body value (a user name) answers 400 invalid_request naming the field', async () => {
    expectRefused(await callApi(t, admin, 'POST', '/api/v1/users', { email: 'nul.name@example.com', name: 'Ada\u0000Lovelace' }), 'body.name');
  });

  it('in a JSON member name, or deep in an array, answers 400', async () => {
    expectRefused(await callApi(t, admin, 'POST', '/api/v1/users', { email: 'nul.key@example.com', 'na\u0000me': 'x' }), 'body.na\\u0000me');
    expectRefused(await callApi(t, admin, 'POST', '/api/v1/users', { email: 'nul.deep@example.com', a: [{ b: ['ok', 'bad\u0000'] }] }), 'body.a[0].b[1]');
  });

  it('on an anonymous route (login) answers 400 before any lookup', async () => {
    expectRefused(await requestJson(t.url, 'POST', '/auth/login', { body: { email: 'admin\u0000@example.com', password: 'whatever it is' } }), 'body.email');
  });

  it('in a query string answers 400', async () => {
    expectRefused(await callApi(t, admin, 'GET', '/api/v1/users?q=ada%00'), 'query.q');
  });

  it('in a path parameter answers 400', async () => {
    expectRefused(await callApi(t, admin, 'GET', '/api/v1/users/abc%00def'), 'params.userId');
  });

  it('the same inputs without the NUL are served', async () => {
    expect((await callApi(t, admin, 'POST', '/api/v1/users', { email: 'nul.free@example.com', name: 'Ada Lovelace' })).status).toBe(201);
    expect((await callApi(t, admin, 'GET', '/api/v1/users?q=ada')).status).toBe(200);
  });
});
