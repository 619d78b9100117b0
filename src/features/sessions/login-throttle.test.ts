import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { createPlainUser, type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { auditActions, call } from '../../../test/support/sessions-http.js';
import { ipSubject } from './throttle-policy.js';

// RFC 6177 / RFC 7421: an IPv6 end site gets a whole /64, so its low 64 bits are the client's to change;
// RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
describe('per-address throttle key', () => {
  it('keys IPv6 on its /64, whatever the spelling', () => {
    expect(ipSubject('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(ipSubject('2001:DB8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(ipSubject('2001:0db8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(ipSubject('2001:db8:1:3::1')).not.toBe(ipSubject('2001:db8:1:2::1'));
    expect(ipSubject('fe80::1%eth0')).toBe(ipSubject('fe80::2'));
  });

  it('keys an IPv4-mapped IPv6 address as the IPv4 address; IPv4 exactly; anything else as given', () => {
    expect(ipSubject('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(ipSubject('::FFFF:c000:0201')).toBe('192.0.2.1');
    expect(ipSubject('192.0.2.1')).toBe('192.0.2.1');
    expect(ipSubject('192.0.2.2')).not.toBe(ipSubject('192.0.2.1'));
    // NAT64 (RFC 6052) and IPv4-compatible addresses are IPv6 networks, not the IPv4 address they embed.
    expect(ipSubject('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(ipSubject('not an address')).toBe('not an address');
  });
});

describe.each(engines())('login throttle over HTTP [%s]', (engine) => {
  let t: TestApp;
  let victimTenant: LoggedIn;
  let otherTenant: LoggedIn;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    // X-Forwarded-For is trusted from loopback, so each test names its own source address.
    t = await startTestApp(engine, {
      env: { TESSERA_TRUST_PROXY: '127.0.0.1' },
      logger: { level: 'info', stream: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) } },
    });
    victimTenant = await loginAsAdmin(t, { tenantName: 'Victim' });
    otherTenant = await loginAsAdmin(t, { tenantName: 'Other' });
  });
  afterAll(() => t?.close());

  const login = (body: Record<string, unknown>, ip: string) => call(t, 'POST', '/auth/login', { body, headers: { 'x-forwarded-for': ip } });
  /** The operator log's "request refused" lines with this error code. */
  const refusals = (code: string) => logs.filter((l) => l.msg === 'request refused' && l.code === code) as { detail: Record<string, unknown> }[];

  it('counts IPv6 per /64: 21 failures from 21 addresses of one /64 block the whole /64, not the next one', async () => {
    // Per address: 20 free failures, then the 21st sets a 1 s wait (distinct emails: no account is throttled).
    for (let i = 1; i <= 21; i++) {
      const r = await login({ email: `nobody-${i}@v6.example.com`, password: 'wrong password' }, `2001:db8:aa:1:${i.toString(16)}::${i}`);
      expect(r.status).toBe(401);
    }
    const sameNet = await login({ email: 'nobody-22@v6.example.com', password: 'wrong password' }, '2001:db8:aa:1:ffff:ffff:ffff:fffe');
    expect(sameNet.status).toBe(429);
    expect(sameNet.body.error.code).toBe('sessions.too_many_attempts');
    expect((await login({ email: 'nobody-23@v6.example.com', password: 'wrong password' }, '2001:db8:aa:2::1')).status).toBe(401);
  });

  it('counts ::ffff:a.b.c.d and a.b.c.d as one address', async () => {
    for (let i = 1; i <= 21; i++) {
      const ip = i % 2 ? '203.0.113.9' : '::ffff:203.0.113.9';
      expect((await login({ email: `nobody-${i}@v4.example.com`, password: 'wrong password' }, ip)).status).toBe(401);
    }
    expect((await login({ email: 'nobody-22@v4.example.com', password: 'wrong password' }, '::ffff:203.0.113.9')).status).toBe(429);
    expect((await login({ email: 'nobody-23@v4.example.com', password: 'wrong password' }, '203.0.113.9')).status).toBe(429);
  });

  // Rule: the per-address count keeps failures; a success reserves an attempt like any other and gives it
  // back, so the many good sign-ins behind one NAT never add up to a block.
  it('a success gives the address its attempt back: 20 failures and any number of successes leave the 21st failure unblocked', async () => {
    const ip = '198.51.100.99';
    for (let i = 1; i <= 20; i++) expect((await login({ email: `nobody-${i}@nat.example.com`, password: 'wrong password' }, ip)).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await login({ email: victimTenant.email, password: victimTenant.password, tenantId: victimTenant.tenantId }, ip)).status).toBe(200);
    expect((await login({ email: 'nobody-21@nat.example.com', password: 'wrong password' }, ip)).status).toBe(401);
    expect((await login({ email: 'nobody-22@nat.example.com', password: 'wrong password' }, ip)).status).toBe(429);
  });

  // Attack: a tenant creates a user with a victim's email and reads, in its own audit log, the victim's
  // failed tenant-less logins (IP, user agent). Rule: a tenant-less failure that matched no tenant's
  // password is recorded in no tenant's log, only in the operator's; a tenant-specific login is audited in
  // its tenant.
  it("a tenant holding a victim's email sees none of the victim's tenant-less failures; the tenant-specific login is audited in its own tenant", async () => {
    const email = 'victim@shared.example.com';
    const victim = await createPlainUser(t, victimTenant, { email, password: 'victim password 42' });
    const decoy = await createPlainUser(t, otherTenant, { email, password: 'decoy password 42' });
    const ip = '192.0.2.50';
    logs.length = 0;
    for (let i = 0; i < 3; i++) expect((await login({ email, password: `wrong ${i}` }, ip)).status).toBe(401);
    const leaked = (await auditActions(t, otherTenant.tenantId)).filter((e) => e.target_id === decoy);
    expect(leaked).toEqual([]);
    expect((await auditActions(t, victimTenant.tenantId)).filter((e) => e.target_id === victim)).toEqual([]);
    // The operator's record: one refusal line per failure, marked tenant-less.
    expect(refusals('sessions.invalid_credentials').map((l) => l.detail)).toEqual(Array(3).fill({ candidates: 2, locked: false, tenantKnown: false }));

    // A tenant-less failure whose password was right for an inactive user is that user's tenant's business.
    const inactive = await createPlainUser(t, otherTenant, { email: 'gone@shared.example.com', password: 'gone password 42', active: false });
    expect((await login({ email: 'gone@shared.example.com', password: 'gone password 42' }, '192.0.2.51')).status).toBe(401);
    expect((await auditActions(t, otherTenant.tenantId)).filter((e) => e.target_id === inactive).map((e) => e.action)).toEqual(['auth.login.failed']);

    // The tenant-specific login (the path to use): audited in the tenant named, and only there.
    expect((await login({ email, password: 'wrong again', tenantId: victimTenant.tenantId }, ip)).status).toBe(401);
    expect((await auditActions(t, victimTenant.tenantId)).filter((e) => e.target_id === victim).map((e) => e.action)).toEqual(['auth.login.failed']);
    expect((await auditActions(t, otherTenant.tenantId)).filter((e) => e.target_id === decoy)).toEqual([]);
    // Its right password still signs in (once the 1 s wait the 4th failure earned has passed).
    t.clock.advance(1_000);
    expect((await login({ email, password: 'victim password 42', tenantId: victimTenant.tenantId }, ip)).status).toBe(200);
  });

  // Rule: a brute force shows up in the tenant's log before the lock: the first refused (429) attempt of each
  // window is audited once (`auth.login.throttled`), in the tenant when the login named it; a tenant-less
  // refusal is logged for the operator only.
  it('the first 429 of a window is audited once as auth.login.throttled in the tenant named; a tenant-less 429 only in the operator log', async () => {
    const email = 'throttled@acme.example.com';
    const userId = await createPlainUser(t, victimTenant, { email, password: 'throttled password 42' });
    const ip = '192.0.2.60';
    const named = { email, password: 'wrong password', tenantId: victimTenant.tenantId };
    for (let i = 0; i < 4; i++) expect((await login(named, ip)).status).toBe(401);
    // The 4th failure set a 1 s wait: the next two are refused; only the first is audited.
    expect((await login(named, ip)).status).toBe(429);
    expect((await login(named, ip)).status).toBe(429);
    const throttled = () => auditActions(t, victimTenant.tenantId).then((events) => events.filter((e) => e.action === 'auth.login.throttled' && e.target_id === userId));
    expect(await throttled()).toEqual([{ action: 'auth.login.throttled', outcome: 'failure', error_code: 'sessions.too_many_attempts', target_id: userId }]);
    // Later waits of the same window are not audited again …
    t.clock.advance(1_000);
    expect((await login(named, ip)).status).toBe(401);
    expect((await login(named, ip)).status).toBe(429);
    expect(await throttled()).toHaveLength(1);
    // … a new window's first refusal is.
    t.clock.advance(15 * 60_000);
    for (let i = 0; i < 4; i++) expect((await login(named, ip)).status).toBe(401);
    expect((await login(named, ip)).status).toBe(429);
    expect(await throttled()).toHaveLength(2);

    // Tenant-less: the refusal is the operator's (its first of the window marked), never a tenant's.
    const other = 'tenantless@acme.example.com';
    const otherId = await createPlainUser(t, victimTenant, { email: other, password: 'tenantless password 42' });
    logs.length = 0;
    for (let i = 0; i < 4; i++) expect((await login({ email: other, password: 'wrong password' }, ip)).status).toBe(401);
    expect((await login({ email: other, password: 'wrong password' }, ip)).status).toBe(429);
    expect((await login({ email: other, password: 'wrong password' }, ip)).status).toBe(429);
    expect(refusals('sessions.too_many_attempts').map((l) => l.detail)).toEqual([
      { retryAfterSeconds: 1, firstRefusal: true, tenantKnown: false },
      { retryAfterSeconds: 1, firstRefusal: false, tenantKnown: false },
    ]);
    expect((await auditActions(t, victimTenant.tenantId)).filter((e) => e.target_id === otherId)).toEqual([]);
  });
});
