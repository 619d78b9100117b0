import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { match } from '../../../test/support/matchers.js';

describe.each(engines())('bootstrap [%s]', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    // The server's own password hasher, with the OWASP parameters asserted below (the other suites hash cheaper).
    t = await startTestApp(engine, { passwordCost: 'owasp' });
  });
  afterAll(() => t.close());

  it('creates a tenant, an account, and an administrator holding Account Administrator', async () => {
    const result = await t.app.services.bootstrap.bootstrap({ tenantName: 'Acme', accountName: 'Acme Prod', email: 'Admin@Acme.example' });
    expect(result.email).toBe('admin@acme.example');
    expect(result.generatedPassword).toMatch(/^[A-Za-z0-9]{20}$/);

    const db = t.database.db.kysely;
    const user = await db.selectFrom('users').selectAll().where('id', '=', result.userId).executeTakeFirstOrThrow();
    expect(user).toMatchObject({ tenant_id: result.tenantId, is_tenant_admin: true, active: true, must_change_password: true });
    expect(user.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(user.password_hash).not.toContain(result.generatedPassword);

    const role = await db.selectFrom('roles').selectAll().where('id', '=', result.roleId).executeTakeFirstOrThrow();
    expect(role).toMatchObject({ account_id: result.accountId, system_key: 'account_admin', name: 'Account Administrator' });
    const link = await db.selectFrom('account_tenants').selectAll().where('account_id', '=', result.accountId).execute();
    expect(link.map((l) => l.tenant_id)).toEqual([result.tenantId]);
    const keys = await db.selectFrom('tenant_keys').select('version').where('tenant_id', '=', result.tenantId).execute();
    expect(keys).toEqual([{ version: 1 }]);

    const allowed = await t.database.db.tenantWork(result.tenantId, (tx) =>
      t.app.services.rbac.hasPermission(tx, result.tenantId, result.userId, result.accountId, 'idp.manage'),
    );
    expect(allowed).toBe(true);
  });

  it('keeps a given password, without the one-time flag', async () => {
    const result = await t.app.services.bootstrap.bootstrap({ tenantName: 'B', accountName: 'B', email: 'b@b.example', password: 'a fine password' });
    expect(result.generatedPassword).toBeUndefined();
    const user = await t.database.db.kysely.selectFrom('users').selectAll().where('id', '=', result.userId).executeTakeFirstOrThrow();
    expect(user.must_change_password).toBe(false);
    expect(await t.app.services.passwords.verify(user.password_hash!, 'a fine password')).toBe(true);
  });

  it('refuses invalid input and changes nothing', async () => {
    const before = await t.database.db.kysely.selectFrom('tenants').select('id').execute();
    await expect(t.app.services.bootstrap.bootstrap({ tenantName: ' ', accountName: 'A', email: 'nope', password: 'short' })).rejects.toMatchObject({
      code: 'bootstrap.invalid_input',
      message: match.stringContaining('password must be at least 8 characters'),
    });
    expect(await t.database.db.kysely.selectFrom('tenants').select('id').execute()).toEqual(before);
  });

  it('the first-start bootstrap does nothing on a database that already has a tenant', async () => {
    await t.app.services.bootstrap.bootstrap({ tenantName: 'Existing', accountName: 'Existing', email: 'existing@x.example' });
    const before = await t.database.db.kysely.selectFrom('tenants').select('id').execute();
    expect(await t.app.services.bootstrap.bootstrapIfEmpty({ tenantName: 'X', accountName: 'X', email: 'x@x.example' })).toBeUndefined();
    expect(await t.database.db.kysely.selectFrom('tenants').select('id').execute()).toEqual(before);
  });

  // PGlite runs one transaction at a time, so the race exists only on PostgreSQL.
  it.runIf(engine === 'postgres')('the first-start bootstrap runs once on an empty database even when instances race (PostgreSQL)', async () => {
    const input = { tenantName: 'X', accountName: 'X', email: 'x@x.example' };
    const empty = await startTestApp(engine);
    try {
      const results = await Promise.all([empty.app.services.bootstrap.bootstrapIfEmpty(input), empty.app.services.bootstrap.bootstrapIfEmpty(input)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await empty.database.db.kysely.selectFrom('tenants').select('id').execute()).toHaveLength(1);
    } finally {
      await empty.close();
    }
  });
});
