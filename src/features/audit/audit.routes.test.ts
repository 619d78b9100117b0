import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { authHeaders, type LoggedIn, loginAsAdmin, loginAsPlainUser } from '../../../test/support/login.js';
import { type ChainedEvent, eventHash } from './audit-chain.js';

// The audit API over real HTTP, with real access tokens from the login endpoint.
describe.each(engines())('audit API [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let other: LoggedIn;
  let plain: LoggedIn;

  const get = async (who: LoggedIn | null, path: string) => {
    const response = await fetch(`${t.url}${path}`, { headers: who ? authHeaders(who, false) : {} });
    const raw = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, raw, text: raw.toString('utf8') };
  };
  const json = async <T>(who: LoggedIn | null, path: string) => {
    const r = await get(who, path);
    return { ...r, body: JSON.parse(r.text) as T };
  };

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    other = await loginAsAdmin(t, { tenantName: 'Globex' });
    plain = await loginAsPlainUser(t, admin);
  });
  afterAll(() => t.close());

  it('GET /api/v1/audit/events lists the tenant’s events newest first, filtered, with a cursor', async () => {
    const all = await json<{ events: ChainedEvent[]; nextCursor: string | null }>(admin, '/api/v1/audit/events?limit=500');
    expect(all.status).toBe(200);
    const actions = all.body.events.map((e) => e.action);
    expect(actions.slice(-4)).toEqual(['role_assignment.created', 'user.created', 'account.created', 'tenant.created']);
    expect(all.body.events.length).toBeGreaterThan(0);
    expect(all.body.events.every((e) => e.tenantId === admin.tenantId)).toBe(true);
    expect(all.body.events.map((e) => e.seq)).toEqual([...all.body.events.map((e) => e.seq)].sort((a, b) => b - a));

    const first = await json<{ events: ChainedEvent[]; nextCursor: string | null }>(admin, '/api/v1/audit/events?limit=2');
    expect(first.body.events).toEqual(all.body.events.slice(0, 2));
    const second = await json<{ events: ChainedEvent[]; nextCursor: string | null }>(admin, `/api/v1/audit/events?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.events).toEqual(all.body.events.slice(2, 4));

    const filtered = await json<{ events: ChainedEvent[] }>(admin, '/api/v1/audit/events?action=user.created&outcome=success');
    expect(filtered.body.events.map((e) => [e.action, e.target?.id])).toEqual([['user.created', admin.userId]]);
    const bySystem = await json<{ events: ChainedEvent[] }>(admin, '/api/v1/audit/events?actor=bootstrap&from=2000-01-01T00:00:00Z');
    expect(bySystem.body.events).toHaveLength(4);

    const bad = await json<{ error: { code: string } }>(admin, '/api/v1/audit/events?cursor=xyz');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('audit.invalid_cursor');
    expect((await json<{ error: { code: string } }>(admin, '/api/v1/audit/events?outcome=maybe')).body.error.code).toBe('invalid_request');
  });

  it('another tenant’s administrator sees only its own chain', async () => {
    const theirs = await json<{ events: ChainedEvent[] }>(other, '/api/v1/audit/events?limit=500');
    expect(theirs.body.events.length).toBeGreaterThan(0);
    expect(theirs.body.events.every((e) => e.tenantId === other.tenantId)).toBe(true);
  });

  it('GET /api/v1/audit/export streams ndjson, json and csv that round-trip', async () => {
    const listed = (await json<{ events: ChainedEvent[] }>(admin, '/api/v1/audit/events?limit=500')).body.events.reverse();

    const ndjson = await get(admin, '/api/v1/audit/export?format=ndjson');
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers.get('content-type')).toContain('application/x-ndjson');
    expect(ndjson.headers.get('content-disposition')).toBe('attachment; filename="audit-events.ndjson"');
    const lines = ndjson.text.trimEnd().split('\n').map((l) => JSON.parse(l) as ChainedEvent);
    expect(lines.slice(0, listed.length)).toEqual(listed);
    for (const e of lines) expect(eventHash(e)).toBe(e.hash);

    const asJson = await get(admin, '/api/v1/audit/export?format=json&action=auth.');
    const parsed = JSON.parse(asJson.text) as ChainedEvent[];
    expect(parsed.length).toBeGreaterThan(0);
    expect(parsed.every((e) => e.action.startsWith('auth.'))).toBe(true);

    const csv = await get(admin, '/api/v1/audit/export?format=csv');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const rows = csv.text.split('\r\n').filter(Boolean);
    // A UTF-8 byte order mark first, so spreadsheet programs read the file as UTF-8.
    expect(csv.raw.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(rows[0]!.startsWith('\uFEFFtenant_id,seq,')).toBe(true);
    expect(rows.length - 1).toBe(lines.length);
  });

  it('GET /api/v1/audit/verify recomputes the chain', async () => {
    const report = await json<{ ok: boolean; checked: number; break: unknown }>(admin, '/api/v1/audit/verify');
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ ok: true, break: null });
    expect(report.body.checked).toBeGreaterThanOrEqual(5);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${t.url}/api/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters?: { name: string }[] } }> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/audit/events', '/api/v1/audit/export', '/api/v1/audit/verify']));
    expect(doc.paths['/api/v1/audit/events']!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['from', 'to', 'actor', 'action', 'cursor', 'limit']));
  });

  // Product rule (permission catalog): reading needs audit.view, exporting audit.export; a user without them is refused.
  it('refuses callers without a session or without the permission', async () => {
    for (const path of ['/api/v1/audit/events', '/api/v1/audit/export?format=csv', '/api/v1/audit/verify']) {
      const anonymous = await json<{ error: { code: string } }>(null, path);
      expect(anonymous.status).toBe(401);
      const denied = await json<{ error: { code: string; message: string } }>(plain, path);
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('permission_denied');
      expect(denied.body.error.message).toContain(path.includes('export') ? 'audit.export' : 'audit.view');
    }
  });
});
