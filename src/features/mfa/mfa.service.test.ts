import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';

/** The code an authenticator app shows at `at` (RFC 6238: SHA-1, 30 s, 6 digits). */
function codeAt(secret: string, at: Date): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: at.getTime() });
}

// One enrollment followed through its life: later tests use the secret and recovery codes earlier ones
// produced, so the tests run in order, never shuffled.
for (const engine of engines()) describe(`MFA service [${engine}]`, { shuffle: false }, () => {
  let t: TestApp;
  let tenantId: string;
  let userId: string;
  let otherTenantId: string;
  let otherUserId: string;
  // The middle of a 30-second step, so ±1 step is unambiguous.
  const start = new Date('2026-05-01T12:00:15Z');

  beforeAll(async () => {
    t = await startTestApp(engine);
    t.clock.set(start);
    const a = await t.app.services.bootstrap.bootstrap({ tenantName: 'A', accountName: 'A', email: 'admin@a.example', password: 'correct horse battery' });
    const b = await t.app.services.bootstrap.bootstrap({ tenantName: 'B', accountName: 'B', email: 'admin@b.example', password: 'correct horse battery' });
    tenantId = a.tenantId;
    userId = a.userId;
    otherTenantId = b.tenantId;
    otherUserId = b.userId;
  });
  afterAll(() => t.close());

  const mfa = () => t.app.services.mfa;
  const work = <T>(fn: Parameters<typeof t.app.db.tenantWork<T>>[1], tenant = tenantId) => t.app.db.tenantWork(tenant, fn);

  let secret: string;
  let recoveryCodes: string[];

  it('enrolls with a QR code and an otpauth URI authenticator apps read', async () => {
    const enrollment = await work((tx) => mfa().startEnrollment(tx, tenantId, userId, 'admin@a.example'));
    secret = enrollment.secret;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrollment.otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
    expect(enrollment.qrCodeDataUrl).toMatch(/^data:image\/png;base64,/);
    expect(await work((tx) => mfa().isEnrolled(tx, tenantId, userId))).toBe(false);
  });

  it('refuses a wrong first code and enables with a right one, returning 10 recovery codes', async () => {
    expect(await work((tx) => mfa().completeEnrollment(tx, tenantId, userId, '000000'))).toBeNull();
    const done = await work((tx) => mfa().completeEnrollment(tx, tenantId, userId, codeAt(secret, start)));
    recoveryCodes = done!.recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    expect(await work((tx) => mfa().isEnrolled(tx, tenantId, userId))).toBe(true);
  });

  // RFC 6238 §5.2: the code that completed enrollment cannot be replayed at login.
  it('refuses the enrollment code again (replay), accepts the next step once', async () => {
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, codeAt(secret, start)))).toBeNull();
    t.clock.advance(30_000);
    const next = codeAt(secret, t.clock.now());
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, `${next.slice(0, 3)} ${next.slice(3)}`))).toBe('totp');
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, next))).toBeNull();
  });

  // RFC 6238 §5.2: one step of drift either way is tolerated, two are not.
  it('accepts ±1 step and refuses ±2 steps', async () => {
    t.clock.advance(5 * 30_000);
    const now = t.clock.now().getTime();
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, codeAt(secret, new Date(now + 60_000))))).toBeNull();
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, codeAt(secret, new Date(now - 30_000))))).toBe('totp');
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, codeAt(secret, new Date(now + 30_000))))).toBe('totp');
    // The current step is older than the one just accepted: refused as a replay of the past.
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, codeAt(secret, new Date(now))))).toBeNull();
    t.clock.advance(5 * 30_000);
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, codeAt(secret, new Date(t.clock.now().getTime() - 60_000))))).toBeNull();
  });

  it('accepts each recovery code once, in any case and with or without dashes', async () => {
    const [first, second] = recoveryCodes as [string, string];
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, first))).toBe('recovery_code');
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, first))).toBeNull();
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, second.replace(/-/g, '').toUpperCase()))).toBe('recovery_code');
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, 'zzzz-zzzz-zzzz-zzzz'))).toBeNull();
    expect((await work((tx) => mfa().status(tx, tenantId, userId))).recoveryCodesRemaining).toBe(8);
  });

  // DESIGN §4: TOTP seeds are encrypted at rest with the tenant's data key; recovery codes are hashed.
  it('stores the secret encrypted and the recovery codes hashed', async () => {
    const row = await t.app.db.ownerWork((tx) => tx.selectFrom('user_mfa').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow());
    const raw = Buffer.from(row.totp_secret_enc);
    expect(raw.includes(Buffer.from(secret))).toBe(false);
    expect(raw.includes(Buffer.from(secret.toLowerCase()))).toBe(false);
    expect(raw.includes(Buffer.from(Secret.fromBase32(secret).bytes))).toBe(false);
    const hashes = await t.app.db.ownerWork((tx) => tx.selectFrom('mfa_recovery_codes').select('code_hash').where('user_id', '=', userId).execute());
    const stored = Buffer.concat(hashes.map((h) => Buffer.from(h.code_hash))).toString('latin1');
    for (const code of recoveryCodes) expect(stored.includes(code.replace(/-/g, ''))).toBe(false);
  });

  // Tamper: the keyring field names the user and the tenant is associated data, so a secret copied to
  // another user (same or other tenant) does not decrypt and no code is accepted for it.
  it('refuses a secret copied to another user or tenant', async () => {
    const row = await t.app.db.ownerWork((tx) => tx.selectFrom('user_mfa').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow());
    await t.app.db.ownerWork((tx) =>
      tx
        .insertInto('user_mfa')
        .values({ tenant_id: otherTenantId, user_id: otherUserId, totp_secret_enc: row.totp_secret_enc, enabled_at: new Date(), created_at: new Date(), updated_at: new Date() })
        .execute(),
    );
    t.clock.advance(30_000);
    const code = codeAt(secret, t.clock.now());
    await expect(work((tx) => mfa().verifyLoginFactor(tx, otherTenantId, otherUserId, code), otherTenantId)).rejects.toMatchObject({ code: 'keyring.decrypt_failed' });
    // Unchanged, the legitimate owner's code still works.
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, code))).toBe('totp');
  });

  it('another tenant cannot use or see the factor', async () => {
    expect(await work((tx) => mfa().isEnrolled(tx, tenantId, userId), otherTenantId)).toBe(false);
    expect(await work((tx) => mfa().verifyLoginFactor(tx, tenantId, userId, recoveryCodes[2]!), otherTenantId)).toBeNull();
    expect((await work((tx) => mfa().status(tx, tenantId, userId))).recoveryCodesRemaining).toBe(8);
  });

  it('refuses a new setup while enabled, and completing without a setup', async () => {
    await expect(work((tx) => mfa().startEnrollment(tx, tenantId, userId, 'x'))).rejects.toMatchObject({ code: 'mfa.already_enabled' });
    const fresh = await work((tx) => t.app.services.identity.createUser(tx, tenantId, { email: 'new@a.example' }));
    await expect(work((tx) => mfa().completeEnrollment(tx, tenantId, fresh.id, '123456'))).rejects.toMatchObject({ code: 'mfa.setup_not_started' });
  });
});
