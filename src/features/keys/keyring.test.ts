import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { loadConfig } from '../../config/load-config.js';
import type { Tx } from '../../db/database.js';
import { dataKeyStore } from './keys.store.js';
import { AppError } from '../../kernel/app-error.js';
import { newId } from '../../kernel/ids.js';
import { Keyring } from '../../crypto/keyring.js';
import { createMasterKeys, resolveMasterKey } from '../../crypto/master-key.js';
import { testTempDir } from '../../../test/support/temp-dir.js';
import { match } from '../../../test/support/matchers.js';

function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof AppError ? error.code : String(error)),
  );
}

// DESIGN §4: secrets at rest under per-tenant data keys wrapped by the master key; the tenant id and field
// name are associated data, so a ciphertext only opens where it was written.
describe.each(engines())('keyring [%s]', (engine) => {
  let t: TestDatabase;
  const master = createMasterKeys(randomBytes(32));
  const keyring = new Keyring<Tx>(master, dataKeyStore);
  const tenantA = newId();
  const tenantB = newId();

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    for (const id of [tenantA, tenantB]) {
      await t.db.tenantWork(id, async (tx) => {
        await tx.insertInto('tenants').values({ id, name: id }).execute();
        await keyring.createDataKey(tx, id);
      });
    }
  });
  afterAll(() => t.drop());

  const encrypt = (tenantId: string, field: string, text: string) => t.db.tenantWork(tenantId, (tx) => keyring.encrypt(tx, tenantId, field, text));
  const decrypt = (k: Keyring<Tx>, tenantId: string, field: string, box: Buffer) => t.db.tenantWork(tenantId, (tx) => k.decryptString(tx, tenantId, field, box));

  it('round-trips, with a fresh nonce each time', async () => {
    const one = await encrypt(tenantA, 'oidc.client_secret', 's3cr3t');
    const two = await encrypt(tenantA, 'oidc.client_secret', 's3cr3t');
    expect(one.equals(two)).toBe(false);
    expect(one.includes(Buffer.from('s3cr3t'))).toBe(false);
    expect(await decrypt(keyring, tenantA, 'oidc.client_secret', one)).toBe('s3cr3t');
  });

  it('stores data keys only wrapped, never in clear', async () => {
    const rows = await t.db.kysely.selectFrom('tenant_keys').selectAll().execute();
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.master_key_id).toBe(master.current.id);
      expect(Buffer.from(row.wrapped_key).length).toBe(12 + 16 + 32);
    }
  });

  it('refuses a ciphertext moved to another tenant', async () => {
    const box = await encrypt(tenantA, 'totp.secret', 'JBSWY3DPEHPK3PXP');
    expect(await codeOf(decrypt(keyring, tenantB, 'totp.secret', box))).toBe('keyring.decrypt_failed');
  });

  it('refuses a ciphertext moved to another field', async () => {
    const box = await encrypt(tenantA, 'totp.secret', 'JBSWY3DPEHPK3PXP');
    expect(await codeOf(decrypt(keyring, tenantA, 'oidc.client_secret', box))).toBe('keyring.decrypt_failed');
  });

  it('refuses any altered byte: header, nonce, tag or body', async () => {
    const box = await encrypt(tenantA, 'f', 'value');
    for (const at of [0, 4, 5, 5 + 12, box.length - 1]) {
      const tampered = Buffer.from(box);
      tampered[at] = tampered[at]! ^ 0x01;
      expect(await codeOf(decrypt(keyring, tenantA, 'f', tampered))).toBe('keyring.decrypt_failed');
    }
    expect(await codeOf(decrypt(keyring, tenantA, 'f', box.subarray(0, 10)))).toBe('keyring.decrypt_failed');
  });

  it("refuses a tenant's wrapped data key copied over another tenant's", async () => {
    const box = await encrypt(tenantB, 'f', 'value');
    const [a] = await t.db.kysely.selectFrom('tenant_keys').select('wrapped_key').where('tenant_id', '=', tenantA).execute();
    await t.db.kysely.updateTable('tenant_keys').set({ wrapped_key: a!.wrapped_key }).where('tenant_id', '=', tenantB).execute();
    // A keyring without cached keys, as a freshly started instance would be.
    const fresh = new Keyring<Tx>(master, dataKeyStore);
    expect(await codeOf(decrypt(fresh, tenantB, 'f', box))).toBe('keyring.decrypt_failed');
  });

  it('names a wrong master key instead of failing obscurely', async () => {
    const box = await encrypt(tenantA, 'f', 'value');
    const other = new Keyring<Tx>(createMasterKeys(randomBytes(32)), dataKeyStore);
    expect(await codeOf(decrypt(other, tenantA, 'f', box))).toBe('keyring.master_key_mismatch');
  });

  it('opens data wrapped by the previous master key during a rotation', async () => {
    const box = await encrypt(tenantA, 'f', 'still readable');
    const rotated = new Keyring<Tx>(createMasterKeys(randomBytes(32), master.current.key), dataKeyStore);
    expect(await decrypt(rotated, tenantA, 'f', box)).toBe('still readable');
  });
});

describe('master key resolution', () => {
  it('generates a key into the data directory in embedded mode (mode 0600), then reuses it', () => {
    const dataDir = testTempDir('mk');
    const config = loadConfig({ TESSERA_DATA_DIR: dataDir });
    const first = resolveMasterKey(config);
    expect(first.generatedAt).toBe(path.join(dataDir, 'master.key'));
    expect(statSync(first.generatedAt!).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(first.generatedAt!, 'utf8').trim(), 'base64')).toHaveLength(32);
    const second = resolveMasterKey(config);
    expect(second.generatedAt).toBeUndefined();
    expect(second.keys.current.id).toBe(first.keys.current.id);
  });

  it('requires TESSERA_MASTER_KEY with PostgreSQL, saying how to make one', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://localhost/x' });
    expect(() => resolveMasterKey(config)).toThrow(expect.objectContaining({ code: 'keyring.master_key_missing', message: match.stringContaining('randomBytes(32)') }));
  });

  it('prefers TESSERA_MASTER_KEY and keeps the previous one for re-wrapping', () => {
    const current = randomBytes(32);
    const previous = randomBytes(32);
    const config = loadConfig({ TESSERA_MASTER_KEY: current.toString('base64'), TESSERA_MASTER_KEY_PREVIOUS: previous.toString('base64') });
    const resolved = resolveMasterKey(config);
    expect(resolved.source).toBe('environment');
    expect(resolved.keys.current.key.equals(current)).toBe(true);
    expect(resolved.keys.previous?.key.equals(previous)).toBe(true);
  });
});
