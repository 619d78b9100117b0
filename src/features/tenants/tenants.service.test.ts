import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServices, type TestServices } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { emailDomainAllowed, SECURITY_DEFAULTS, withDefaults } from './security-settings.js';
import * as store from './tenants.store.js';

describe('security settings defaults', () => {
  it('fills every missing or unreadable field with its default, field by field', () => {
    expect(withDefaults(undefined)).toEqual(SECURITY_DEFAULTS);
    expect(withDefaults({ mfaRequired: true, sessionLifetimeSeconds: 'long', allowedEmailDomains: ['a.example', 'a.example'] })).toEqual({
      ...SECURITY_DEFAULTS,
      mfaRequired: true,
      allowedEmailDomains: ['a.example'],
    });
  });

  it('matches email domains exactly and case-insensitively, only when restricted', () => {
    const settings = { ...SECURITY_DEFAULTS, allowedEmailDomains: ['acme.example'], restrictEmailDomains: true };
    expect(emailDomainAllowed(settings, 'Ann@ACME.example')).toBe(true);
    expect(emailDomainAllowed(settings, 'ann@sub.acme.example')).toBe(false);
    expect(emailDomainAllowed(settings, 'ann@acme.example.org')).toBe(false);
    expect(emailDomainAllowed(settings, 'acme.example@evil.example')).toBe(false);
    expect(emailDomainAllowed({ ...settings, restrictEmailDomains: false }, 'ann@evil.example')).toBe(true);
  });
});

describe.each(engines())('tenant security settings store [%s]', (engine) => {
  let t: TestServices;
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    t = await startTestServices(engine);
    tenantA = (await t.services.bootstrap.bootstrap({ tenantName: 'A', accountName: 'A', email: 'admin@a.example', password: 'correct horse battery' })).tenantId;
    tenantB = (await t.services.bootstrap.bootstrap({ tenantName: 'B', accountName: 'B', email: 'admin@b.example', password: 'correct horse battery' })).tenantId;
  });
  afterAll(() => t.close());

  it('keeps the other keys of tenants.settings', async () => {
    await t.database.db.ownerWork((tx) => tx.updateTable('tenants').set({ settings: JSON.stringify({ sso: { required: true } }) }).where('id', '=', tenantA).execute());
    await t.database.db.tenantWork(tenantA, (tx) => store.writeSecuritySettings(tx, tenantA, { ...SECURITY_DEFAULTS, mfaRequired: true }, new Date()));
    const row = await t.database.db.ownerWork((tx) => tx.selectFrom('tenants').select('settings').where('id', '=', tenantA).executeTakeFirstOrThrow());
    expect(row.settings).toMatchObject({ sso: { required: true }, security: { mfaRequired: true } });
  });

  it('another tenant neither reads nor writes them', async () => {
    await t.database.db.tenantWork(tenantB, async (tx) => {
      expect(await store.readSecuritySettings(tx, tenantA)).toBeUndefined();
      expect(await store.writeSecuritySettings(tx, tenantA, { ...SECURITY_DEFAULTS }, new Date())).toBe(false);
      expect(await t.services.tenants.securitySettings(tx, tenantA)).toEqual(SECURITY_DEFAULTS);
    });
    const a = await t.database.db.tenantWork(tenantA, (tx) => t.services.tenants.securitySettings(tx, tenantA));
    expect(a.mfaRequired).toBe(true);
  });
});
