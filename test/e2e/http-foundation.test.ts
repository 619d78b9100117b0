import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Tx } from '../../src/db/database.js';
import { loggerOptions } from '../../src/http/logger.js';
import { newId } from '../../src/kernel/ids.js';
import { engines } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/app.js';

/** Collects the server's JSON log lines. */
function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe.each(engines())('HTTP foundation [%s]', (engine) => {
  let t: TestApp;
  const logs = logSink();

  beforeAll(async () => {
    t = await startTestApp(engine, {
      env: { TESSERA_BODY_LIMIT: '2048' },
      logger: { ...(loggerOptions('info') as object), stream: logs.stream },
      beforeListen: (app) => {
        // A route that fails unexpectedly, to prove internals never reach the client.
        app.http.post('/test/explode', { schema: { hide: true } }, () => Promise.reject(new Error('database password is hunter2')));
        app.http.post('/test/echo', { schema: { hide: true } }, (request) => Promise.resolve({ received: request.body }));
        // Writes aimed at another tenant's users, run the way every request runs: as tessera_app, in a unit
        // of work of the caller's tenant (or of none). Only row-level security stands in their way.
        app.http.post('/test/rls/update', { schema: { hide: true } }, async (request) => {
          const { asTenant, victim } = request.body as { asTenant: string | null; victim: string };
          const write = (tx: Tx) => tx.updateTable('users').set({ name: 'Hijacked' }).where('tenant_id', '=', victim).executeTakeFirst();
          const result = asTenant ? await app.db.tenantWork(asTenant, write) : await app.db.globalWork(write);
          return { updated: Number(result.numUpdatedRows) };
        });
        app.http.post('/test/rls/insert', { schema: { hide: true } }, async (request) => {
          const { asTenant, victim } = request.body as { asTenant: string | null; victim: string };
          const write = (tx: Tx) => tx.insertInto('users').values({ tenant_id: victim, id: newId(), email: `planted-${newId()}@evil.example`, is_tenant_admin: true }).execute();
          await (asTenant ? app.db.tenantWork(asTenant, write) : app.db.globalWork(write));
          return { inserted: true };
        });
      },
    });
  });
  afterAll(() => t.close());

  it('GET /healthz answers while the process is up', async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz reports the database and migrations', async () => {
    const res = await fetch(`${t.url}/readyz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'current', draining: false } });
  });

  it('GET /readyz is 503 while migrations are pending', async () => {
    const last = await t.database.db.kysely.selectFrom('tessera_migrations').selectAll().orderBy('version', 'desc').executeTakeFirstOrThrow();
    await t.database.db.kysely.deleteFrom('tessera_migrations').where('version', '=', last.version).execute();
    try {
      const res = await fetch(`${t.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'not_ready', checks: { migrations: 'pending' } });
    } finally {
      await t.database.db.kysely.insertInto('tessera_migrations').values(last).execute();
    }
  });

  it('GET /.well-known/jwks.json publishes public keys only, with kid and alg', async () => {
    const res = await fetch(`${t.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    const { keys } = (await res.json()) as { keys: Record<string, string>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
    expect(keys[0]!.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(keys[0]).not.toHaveProperty(privateMember);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const again = await fetch(`${t.url}/.well-known/jwks.json`, { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('unknown routes answer 404 not_found in the error shape, with the request id', async () => {
    const res = await fetch(`${t.url}/no/such/route`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error.code).toBe('not_found');
    expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
  });

  it('malformed JSON answers 400 invalid_request with the reason', async () => {
    const res = await fetch(`${t.url}/test/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(/JSON/);
  });

  it('an oversized body answers 413 payload_too_large', async () => {
    const res = await fetch(`${t.url}/test/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: 'y'.repeat(4096) }) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('an unsupported content type answers 415', async () => {
    const res = await fetch(`${t.url}/test/echo`, { method: 'POST', headers: { 'content-type': 'application/x-whatever' }, body: 'x' });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
  });

  it('an unexpected failure answers internal_error, never the internal message, and logs it under the request id', async () => {
    const res = await fetch(`${t.url}/test/explode`, { method: 'POST' });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('hunter2');
    const body = JSON.parse(text) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('internal_error');
    const logged = logs.lines.map((l) => JSON.parse(l) as { reqId?: string; level: number; err?: { message: string } }).find((l) => l.reqId === body.error.requestId && l.level >= 50);
    expect(logged?.err?.message).toContain('hunter2');
  });

  it('keeps a plain X-Request-Id from the caller and replaces a hostile one', async () => {
    const kept = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'lb-1234.abc' } });
    expect(kept.headers.get('x-request-id')).toBe('lb-1234.abc');
    const replaced = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'evil\tline' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends security headers', async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('writes one access-log line per request: method, URL, status and duration under the request id', async () => {
    await fetch(`${t.url}/no/such/page?page=3`, { headers: { 'x-request-id': 'access-log-1' } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const mine = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === 'access-log-1');
    expect(mine).toHaveLength(1);
    const [line] = mine as [{ msg: string; req: { method: string; url: string }; res: unknown; responseTime: unknown }];
    expect([line.msg, line.req.method, line.req.url, line.res, typeof line.responseTime]).toEqual(['request completed', 'GET', '/no/such/page?page=3', { statusCode: 404 }, 'number']);
  });

  it('never logs credentials: authorization, cookies, or secret query parameters', async () => {
    await fetch(`${t.url}/some/page?token=tok-SECRET-1&page=2`, { headers: { authorization: 'Bearer bearer-SECRET-2', cookie: 'tessera_refresh=cookie-SECRET-3' } });
    await fetch(`${t.url}/no/route?code=code-SECRET-4`);
    const all = logs.lines.join('\n');
    expect(all).toContain('page=2');
    for (const secret of ['tok-SECRET-1', 'bearer-SECRET-2', 'cookie-SECRET-3', 'code-SECRET-4']) expect(all).not.toContain(secret);
  });

  it('describes the API in OpenAPI 3.1 at /api/openapi.json, with a reference page at /api/docs', async () => {
    const res = await fetch(`${t.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/.well-known/jwks.json']));
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/test/') || p.startsWith('/api/docs') || p === '/api/openapi.json')).toEqual([]);
    const docs = await fetch(`${t.url}/api/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  // DESIGN §4, tenant isolation twice: a write that forgets (or forges) the tenant filter is still stopped by
  // row-level security, because requests run as tessera_app, which owns no table.
  it('the database refuses the application role a write outside its tenant even through the HTTP app', async () => {
    const a = await t.app.services.bootstrap.bootstrap({ tenantName: 'A', accountName: 'A', email: 'a@a.example', password: 'a password 42' });
    const b = await t.app.services.bootstrap.bootstrap({ tenantName: 'B', accountName: 'B', email: 'b@b.example', password: 'b password 42' });
    const usersOfB = () => t.database.db.ownerWork((tx) => tx.selectFrom('users').selectAll().where('tenant_id', '=', b.tenantId).orderBy('id').execute());
    const before = await usersOfB();
    expect(before).toHaveLength(1);
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { updated?: number; error?: { code: string; requestId: string } } };
    };
    const refusal = (requestId: string) =>
      logs.lines.map((l) => JSON.parse(l) as { reqId?: string; level: number; err?: { message: string } }).find((l) => l.reqId === requestId && l.level >= 50)?.err?.message;

    for (const asTenant of [a.tenantId, null]) {
      // USING hides the other tenant's rows from an UPDATE: it finds nothing to change.
      expect(await post('/test/rls/update', { asTenant, victim: b.tenantId })).toEqual({ status: 200, body: { updated: 0 } });
      // WITH CHECK (the USING expression) refuses a row planted in another tenant.
      const planted = await post('/test/rls/insert', { asTenant, victim: b.tenantId });
      expect(planted.status).toBe(500);
      expect(planted.body.error?.code).toBe('internal_error');
      expect(refusal(planted.body.error!.requestId)).toMatch(/row-level security/);
    }
    expect(await usersOfB()).toEqual(before);
    // A unit of work without a tenant sees no tenant at all, though two exist.
    const rows = await t.app.db.globalWork((tx) => sql<{ n: number }>`select count(*)::int as n from tenants`.execute(tx));
    expect(rows.rows[0]!.n).toBe(0);
  });
});
