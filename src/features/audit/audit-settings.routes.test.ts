import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { createPlainUser, type LoggedIn, loginAsAdmin, loginAsPlainUser, loginOverHttp } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';

interface Settings {
  retentionDays: number;
  defaultRetentionDays: number;
  minRetentionDays: number;
  maxRetentionDays: number;
  webhook: { url: string } | null;
  webhookSecret?: string | null;
}

// The audit settings API (README "Audit log"): retention and the SIEM webhook from the console, the signing secret
// shown once (DESIGN §4), a tenant-wide change reserved to tenant administrators with security.manage.
describe.each(engines())('audit settings over HTTP [%s]', (engine) => {
  let t: TestApp;
  const logs: string[] = [];

  beforeAll(async () => {
    t = await startTestApp(engine, { logger: { level: 'trace', stream: { write: (line: string) => void logs.push(line) } } });
  });
  afterAll(() => t?.close());

  const api = <T = Settings>(who: { accessToken: string } | null, method: string, body?: unknown) => callApi<T>(t, who, method, '/api/v1/audit/settings', body);
  const events = (tenantId: string, prefix = 'audit.') =>
    t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select(['action', 'details', 'actor_id']).where('tenant_id', '=', tenantId).where('action', 'like', `${prefix}%`).orderBy('seq').execute(),
    );

  it('reads the defaults: 7 years, no webhook', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Defaults' });
    const res = await api(admin, 'GET');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ retentionDays: 2557, defaultRetentionDays: 2557, minRetentionDays: 90, maxRetentionDays: 36_500, webhook: null });
  });

  it('sets retention and the webhook in one request; the secret is answered once, never read back, never in events or logs', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Siem Co' });
    const other = await loginAsAdmin(t, { tenantName: 'Bystander' });
    const res = await api(admin, 'PATCH', { retentionDays: 365, webhook: { url: 'https://siem.example.com/hooks/tessera?token=receiver-token-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const secret = res.body.webhookSecret!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(res.body).toMatchObject({ retentionDays: 365, webhook: { url: 'https://siem.example.com/hooks/tessera' } });

    const read = await api(admin, 'GET');
    expect(read.body).toEqual({ retentionDays: 365, defaultRetentionDays: 2557, minRetentionDays: 90, maxRetentionDays: 36_500, webhook: { url: 'https://siem.example.com/hooks/tessera' } });
    expect(JSON.stringify(read.body)).not.toContain(secret);
    expect(JSON.stringify(read.body)).not.toContain('receiver-token-123');

    const recorded = await events(admin.tenantId);
    expect(recorded.map((e) => e.action)).toEqual(['audit.retention.changed', 'audit.webhook.configured']);
    expect(recorded[0]!.details).toEqual({ retentionDays: 365, previousRetentionDays: 2557 });
    expect(recorded[1]!.details).toEqual({ url: 'https://siem.example.com/hooks/tessera' });
    expect(recorded.every((e) => e.actor_id === admin.userId)).toBe(true);
    expect(JSON.stringify(recorded)).not.toContain(secret);
    expect(JSON.stringify(recorded)).not.toContain('receiver-token-123');
    expect(logs.join('\n')).not.toContain(secret);

    // The secret is stored encrypted (keyring), not in clear.
    const stored = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_settings').select(['webhook_secret_enc', 'webhook_url']).where('tenant_id', '=', admin.tenantId).executeTakeFirstOrThrow());
    expect(Buffer.from(stored.webhook_secret_enc!).includes(Buffer.from(secret))).toBe(false);

    // Another tenant is untouched.
    expect((await api(other, 'GET')).body).toMatchObject({ retentionDays: 2557, webhook: null });
    expect(await events(other.tenantId)).toEqual([]);

    // Setting the URL again rotates the secret; removing the webhook forgets URL and secret.
    const again = await api(admin, 'PATCH', { webhook: { url: 'https://siem.example.com/v2' } });
    expect(again.body.webhookSecret).toBeTruthy();
    expect(again.body.webhookSecret).not.toBe(secret);
    const removed = await api(admin, 'PATCH', { webhook: null });
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ retentionDays: 365, webhook: null, webhookSecret: null });
    const cleared = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_settings').select(['webhook_secret_enc', 'webhook_url']).where('tenant_id', '=', admin.tenantId).executeTakeFirstOrThrow());
    expect(cleared).toEqual({ webhook_secret_enc: null, webhook_url: null });
    expect((await events(admin.tenantId)).map((e) => e.action)).toEqual(['audit.retention.changed', 'audit.webhook.configured', 'audit.webhook.configured', 'audit.webhook.removed']);

    // The same retention again is no change and records nothing.
    expect((await api(admin, 'PATCH', { retentionDays: 365 })).status).toBe(200);
    expect((await events(admin.tenantId, 'audit.retention')).length).toBe(1);
  });

  it.each([
    ['retention below 90 days', { retentionDays: 89 }],
    ['retention of 0 days', { retentionDays: 0 }],
    ['retention above 100 years', { retentionDays: 36_501 }],
    ['a fractional retention', { retentionDays: 365.5 }],
    ['a webhook that is not http(s)', { webhook: { url: 'ftp://siem.example.com/x' } }],
    ['a plain http webhook URL (cloud metadata)', { webhook: { url: 'http://169.254.169.254/latest/meta-data/' } }],
    ['a relative webhook URL', { webhook: { url: '/hooks' } }],
    ['a webhook URL with credentials', { webhook: { url: 'https://user:pw@siem.example.com/x' } }],
    ['a valid retention with an invalid webhook', { retentionDays: 400, webhook: { url: 'javascript:alert(1)' } }],
    ['a caller-chosen secret', { webhook: { url: 'https://siem.example.com/x', secret: 'chosen-by-the-caller-123' } }],
    ['an unknown field', { retention: 400 }],
  ])('refuses %s and changes nothing', async (_label, body) => {
    const admin = await loginAsAdmin(t, { tenantName: `Refused ${newId().slice(-6)}` });
    const res = await api(admin, 'PATCH', body);
    expect(res.status).toBe(400);
    expect(['audit.invalid_settings', 'invalid_request']).toContain(errorCode(res));
    expect((await api(admin, 'GET')).body).toMatchObject({ retentionDays: 2557, webhook: null });
    expect(await events(admin.tenantId)).toEqual([]);
  });

  it('names the rule in audit.invalid_settings', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Rule Co' });
    const res = await api<{ error: { code: string; message: string } }>(admin, 'PATCH', { retentionDays: 30 });
    expect(res.body.error).toMatchObject({ code: 'audit.invalid_settings' });
    expect(res.body.error.message).toContain('between 90 and 36500');
  });

  it('needs audit.view to read; security.manage and a tenant administrator to change', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Guarded Audit' });
    const plain = await loginAsPlainUser(t, admin);
    expect(errorCode(await api(plain, 'GET'))).toBe('permission_denied');
    expect(errorCode(await api(plain, 'PATCH', { webhook: { url: 'https://attacker.example.com/' } }))).toBe('permission_denied');
    expect((await api(null, 'PATCH', { retentionDays: 90 })).status).toBe(401);

    // security.manage (and audit.view) without being a tenant administrator: reads, cannot change.
    const email = `auditor-${newId().slice(-8)}@example.com`;
    const userId = await createPlainUser(t, admin, { email, password: 'audit manager pw 42', withRole: false });
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const roleId = newId();
      await tx.insertInto('roles').values({ account_id: admin.accountId, id: roleId, name: `Security ${roleId}`, permissions: ['audit.view', 'security.manage'] }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: admin.tenantId, id: newId(), account_id: admin.accountId, role_id: roleId, user_id: userId }).execute();
    });
    const manager = await loginOverHttp(t, { email, password: 'audit manager pw 42', tenantId: admin.tenantId });
    expect((await api(manager, 'GET')).status).toBe(200);
    const refused = await api(manager, 'PATCH', { retentionDays: 90, webhook: { url: 'https://attacker.example.com/' } });
    expect(refused.status).toBe(403);
    expect(errorCode(refused)).toBe('identity.tenant_admin_required');
    expect((await api(admin, 'GET')).body).toMatchObject({ retentionDays: 2557, webhook: null });
    expect(await events(admin.tenantId)).toEqual([]);
  });

  // Two administrators change the settings at once: each request is one unit of work, the answers agree with what is stored.
  it('parallel changes leave one consistent state and one event each', async () => {
    const admin: LoggedIn = await loginAsAdmin(t, { tenantName: 'Parallel Audit' });
    const answers = await Promise.all([100, 200, 300, 400].map((days) => api(admin, 'PATCH', { retentionDays: days })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const final = (await api(admin, 'GET')).body.retentionDays;
    expect([100, 200, 300, 400]).toContain(final);
    const changes = await events(admin.tenantId, 'audit.retention');
    expect(changes.length).toBeGreaterThanOrEqual(1);
    expect((changes.at(-1)!.details as { retentionDays: number }).retentionDays).toBe(final);
  });
});
