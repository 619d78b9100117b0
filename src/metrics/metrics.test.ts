import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { startServer } from '../main.js';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { engines } from '../../test/support/databases.js';
import { callApi } from '../../test/support/http.js';
import { createPlainUser, type LoggedIn, loginAsAdmin } from '../../test/support/login.js';
import type { TestOp } from '../../test/support/oidc-provider.js';
import { enrollTotp, totpCode } from '../../test/support/sessions-http.js';
import { markDomainVerified, startSsoTestApp } from '../../test/support/sso.js';
import { testTempDir } from '../../test/support/temp-dir.js';
import { createUserAgent } from '../../test/support/user-agent.js';
import { newId } from '../kernel/ids.js';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';

/** One sample of a Prometheus text exposition, by metric name and exact labels; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.keys(labels).length === Object.keys(found).length && Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.each(engines())('metrics scraped over HTTP after real traffic [%s]', (engine) => {
  let t: TestApp;
  let op: TestOp;
  let metrics: MetricsServer;
  let admin: LoggedIn;
  const scrape = async () => {
    const response = await fetch(`${metrics.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  beforeAll(async () => {
    // Metrics are collected only with TESSERA_METRICS_PORT set; the suite serves them itself on a port of its own.
    ({ t, op } = await startSsoTestApp(engine, {}, { env: { TESSERA_METRICS_PORT: String(await freePort()) } }));
    metrics = await startMetricsServer(t.app.services.metrics!.registry, { host: '127.0.0.1', port: 0 });
    admin = await loginAsAdmin(t);
  });
  afterAll(async () => {
    await metrics?.close();
    await op?.close();
    await t?.close();
  });

  it('counts requests by declared route pattern and status, never by raw URL, with latency histograms', async () => {
    const userId = newId();
    const missing = await callApi(t, admin, 'GET', `/api/v1/users/${userId}`);
    expect(missing.status).toBe(404);
    expect((await fetch(`${t.url}/no/such/${userId}`)).status).toBe(404);
    const text = await scrape();
    expect(sample(text, 'tessera_http_requests_total', { method: 'POST', route: '/auth/login', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_http_requests_total', { method: 'GET', route: '/api/v1/users/:userId', status: '404' })).toBe(1);
    expect(sample(text, 'tessera_http_requests_total', { method: 'any', route: 'unmatched', status: '404' })).toBe(1);
    expect(sample(text, 'tessera_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/users/:userId', status: '404' })).toBe(1);
    expect(sample(text, 'tessera_http_request_duration_seconds_bucket', { method: 'GET', route: '/api/v1/users/:userId', status: '404', le: '+Inf' })).toBe(1);
    // Bounded cardinality: no id and no unmatched path ever becomes a label.
    expect(text).not.toContain(userId);
  });

  it('counts password logins by outcome, throttled attempts, TOTP, refreshes, revocations and audit appends', async () => {
    const before = await scrape();
    const appendsBefore = sample(before, 'tessera_audit_appends_total') ?? 0;
    const successBefore = sample(before, 'tessera_logins_total', { method: 'password', outcome: 'success' }) ?? 0;

    const password = 'metrics user password 42';
    const guessed = `g-${newId().slice(-10)}@example.com`;
    await createPlainUser(t, admin, { email: guessed, password });
    // Wrong passwords until the account's throttle refuses before checking (throttle-policy.ts ACCOUNT_POLICY).
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await post('/auth/login', { email: guessed, password: 'wrong password 1234', tenantId: admin.tenantId })).status);
    expect(codes.filter((c) => c === 401).length).toBeGreaterThanOrEqual(3);
    expect(codes.at(-1)).toBe(429);

    const email = `m-${newId().slice(-10)}@example.com`;
    const userId = await createPlainUser(t, admin, { email, password });

    // TOTP: the password step answers mfa_required (next_step), the code completes the login.
    const { secret } = await enrollTotp(t, admin.tenantId, userId);
    const first = (await (await post('/auth/login', { email, password, tenantId: admin.tenantId })).json()) as { status: string; challengeToken: string };
    expect(first.status).toBe('mfa_required');
    const second = await post('/auth/login/mfa', { challengeToken: first.challengeToken, code: totpCode(t, secret) });
    expect(second.status).toBe(200);
    const refreshCookie = second.headers.getSetCookie().find((c) => c.startsWith('tessera_refresh='))!.split(';')[0]!;
    const refreshed = await fetch(`${t.url}/auth/refresh`, { method: 'POST', headers: { cookie: refreshCookie } });
    expect(refreshed.status).toBe(200);
    expect((await fetch(`${t.url}/auth/refresh`, { method: 'POST', headers: { cookie: 'tessera_refresh=not-a-token' } })).status).toBe(401);
    const { accessToken } = (await refreshed.json()) as { accessToken: string };
    expect((await fetch(`${t.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } })).status).toBeLessThan(300);

    const text = await scrape();
    expect(sample(text, 'tessera_logins_total', { method: 'password', outcome: 'failure' })).toBe(codes.filter((c) => c === 401).length);
    expect(sample(text, 'tessera_logins_total', { method: 'password', outcome: 'throttled' })).toBe(codes.filter((c) => c === 429).length);
    expect(sample(text, 'tessera_logins_total', { method: 'password', outcome: 'throttled' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_throttled_total', { kind: 'password' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_logins_total', { method: 'password', outcome: 'next_step' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_logins_total', { method: 'password', outcome: 'success' })).toBe(successBefore);
    expect(sample(text, 'tessera_logins_total', { method: 'totp', outcome: 'success' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_refreshes_total', { outcome: 'success' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_refreshes_total', { outcome: 'failure' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_session_revocations_total', { reason: 'logout' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_audit_appends_total')).toBeGreaterThan(appendsBefore);
    expect(sample(text, 'tessera_password_hash_queue', { state: 'waiting' })).toBe(0);
    expect(sample(text, 'tessera_audit_webhook_backlog')).toBe(0);
  });

  it('counts an OIDC sign-in against a real OP, by protocol', async () => {
    const role = await callApi<{ id: string }>(t, admin, 'POST', '/api/v1/roles', { name: `SSO ${newId().slice(-6)}`, permissions: ['idp.view'] });
    await markDomainVerified(t, admin.tenantId, 'acme.test');
    const connection = await callApi<{ id: string }>(t, admin, 'POST', '/api/v1/sso/connections', {
      type: 'oidc', name: `Okta ${newId().slice(-8)}`, enabled: true, domains: ['acme.test'], defaultRoleId: role.body.id, rules: [],
      oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret },
    });
    expect(connection.status, JSON.stringify(connection.body)).toBe(201);
    op.addAccount('u-metrics', { email: 'metrics@acme.test', email_verified: true, name: 'Metrics' });
    t.clock.set(new Date());
    op.queueLogin('u-metrics', {});
    const { chain } = await createUserAgent().navigate(`${t.url}/auth/sso/start?connection=${connection.body.id}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    expect(new URL(chain.at(-1)!).searchParams.get('error')).toBeNull();
    // A callback without the transaction cookie is a refused sign-in.
    expect((await fetch(`${t.url}/auth/sso/oidc/callback?state=x&code=y`, { redirect: 'manual' })).status).toBeGreaterThanOrEqual(300);

    const text = await scrape();
    expect(sample(text, 'tessera_logins_total', { method: 'oidc', outcome: 'success' })).toBe(1);
    expect(sample(text, 'tessera_logins_total', { method: 'oidc', outcome: 'failure' })).toBe(1);
  });

  it('counts SCIM requests by resource and operation', async () => {
    const directoryId = newId();
    const scim = await fetch(`${t.url}/scim/v2/${directoryId}/Users?filter=${encodeURIComponent('userName eq "a"')}`, { headers: { authorization: 'Bearer nope' } });
    expect(scim.status).toBe(401);
    const text = await scrape();
    expect(sample(text, 'tessera_scim_operations_total', { resource: 'Users', operation: 'query', status: '401' })).toBe(1);
    expect(text).not.toContain(directoryId);
  });

  it.runIf(engine === 'postgres')('reports the PostgreSQL pool and the coalesced session-state reads', async () => {
    // An authenticated request reads its session state (one batch or more).
    expect((await callApi(t, admin, 'GET', '/api/v1/me')).status).toBe(200);
    const text = await scrape();
    // The test database's pool holds 5 (test/support/databases.ts).
    expect(sample(text, 'tessera_db_pool_connections', { state: 'max' })).toBe(5);
    expect(sample(text, 'tessera_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_session_state_batch_size_count')).toBeGreaterThanOrEqual(1);
  });
});

describe('metrics exposure', () => {
  const baseEnv = () => ({ TESSERA_DATA_DIR: testTempDir('metrics'), TESSERA_MASTER_KEY: randomBytes(32).toString('base64'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });

  // The embedded database in a data directory: a first start migrates it, which takes a while on a busy machine.
  it('is off by default: no listener, and the public port has no /metrics', { timeout: 180_000 }, async () => {
    const running = await startServer(loadConfig(baseEnv()), { print: () => {} });
    onTestFinished(() => running.shutdown('test finished'));
    expect(running.metricsAddress).toBeUndefined();
    expect((await fetch(`${running.address}/metrics`)).status).toBe(404);
  });

  it('on its own port, bound to 127.0.0.1 by default; the public port still has no /metrics', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const running = await startServer(loadConfig({ ...baseEnv(), TESSERA_METRICS_PORT: String(port) }), { print: () => {} });
    onTestFinished(() => running.shutdown('test finished'));
    expect(running.metricsAddress).toBe(`http://127.0.0.1:${port}`);
    expect((await fetch(`${running.address}/metrics`)).status).toBe(404);
    const response = await fetch(`${running.metricsAddress}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('tessera_http_requests_total{method="any",route="unmatched",status="404"} 1');
    // Process metrics where metrics are served.
    expect(text).toContain('tessera_process_cpu_user_seconds_total');
    expect((await fetch(`${running.metricsAddress}/other`)).status).toBe(404);

    // Every series the Grafana dashboard queries exists (the pool gauge only on PostgreSQL, the suite above checks it).
    const dashboard = readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8');
    const queried = new Set([...dashboard.matchAll(/tessera_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
    const served = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
    expect([...queried].filter((name) => !served.has(name) && name !== 'tessera_db_pool_connections')).toEqual([]);
  });

  it('refuses the public port as the metrics port', () => {
    expect(() => loadConfig({ PORT: '8080', TESSERA_METRICS_PORT: '8080' })).toThrow(/TESSERA_METRICS_PORT=8080: must differ from PORT/);
  });

  it('counts refusals of the per-IP route limits', async () => {
    const t = await startTestApp('pglite', { env: { TESSERA_SSO_RATE_LIMIT: '2', TESSERA_METRICS_PORT: String(await freePort()) } });
    onTestFinished(() => t.close());
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await fetch(`${t.url}/auth/sso/discover`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"someone@example.org"}' })).status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    const text = await t.app.services.metrics!.registry.metrics();
    expect(sample(text, 'tessera_throttled_total', { kind: 'rate_limit' })).toBe(1);
  });

  it('collects nothing without TESSERA_METRICS_PORT: no registry, no per-route hook', async () => {
    const t = await startTestApp('pglite');
    onTestFinished(() => t.close());
    expect(t.app.services.metrics).toBeUndefined();
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('keeps one registry per app: two apps in one process do not count into each other', async () => {
    const { createMetrics } = await import('./metrics.js');
    const a = createMetrics();
    const b = createMetrics();
    a.telemetry.login('password', 'success');
    expect(sample(await a.registry.metrics(), 'tessera_logins_total', { method: 'password', outcome: 'success' })).toBe(1);
    expect(sample(await b.registry.metrics(), 'tessera_logins_total', { method: 'password', outcome: 'success' })).toBeUndefined();
  });
});
