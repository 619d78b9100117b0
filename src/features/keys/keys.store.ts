import type { JWK } from 'jose';
import { sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import type { DataKeyStore, WrappedDataKey } from '../../crypto/keyring.js';

function toWrapped(row: { version: number; wrapped_key: Uint8Array; master_key_id: string }): WrappedDataKey {
  return { version: row.version, wrappedKey: Buffer.from(row.wrapped_key), masterKeyId: row.master_key_id };
}

/** Tenant data keys (tenant-owned: every query filters on tenant_id; RLS admits only the current tenant). */
export const dataKeyStore: DataKeyStore<Tx> = {
  async currentDataKey(tx, tenantId) {
    const row = await tx
      .selectFrom('tenant_keys')
      .select(['version', 'wrapped_key', 'master_key_id'])
      .where('tenant_id', '=', tenantId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toWrapped(row);
  },
  async dataKey(tx, tenantId, version) {
    const row = await tx
      .selectFrom('tenant_keys')
      .select(['version', 'wrapped_key', 'master_key_id'])
      .where('tenant_id', '=', tenantId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && toWrapped(row);
  },
  async insertDataKey(tx, tenantId, key) {
    await tx
      .insertInto('tenant_keys')
      .values({ tenant_id: tenantId, version: key.version, wrapped_key: key.wrappedKey, master_key_id: key.masterKeyId })
      .execute();
  },
};

/** Every wrapped data key of every tenant; operator work (runs as the owner, across tenants). */
export async function listAllDataKeys(tx: Tx) {
  return tx.selectFrom('tenant_keys').select(['tenant_id', 'version', 'wrapped_key', 'master_key_id']).orderBy('tenant_id').orderBy('version').execute();
}

export async function replaceWrappedDataKey(tx: Tx, tenantId: string, version: number, wrapped: Buffer, masterKeyId: string) {
  await tx
    .updateTable('tenant_keys')
    .set({ wrapped_key: wrapped, master_key_id: masterKeyId })
    .where('tenant_id', '=', tenantId)
    .where('version', '=', version)
    .execute();
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateKeyEnc: Buffer;
  masterKeyId: string;
  createdAt: Date;
  retiredAt: Date | null;
  publishUntil: Date | null;
}

/** Signing keys still published at `now`: the current one and retired ones whose tokens may still be live. */
export async function publishedSigningKeys(tx: Tx, now: Date): Promise<SigningKeyRow[]> {
  const rows = await tx
    .selectFrom('signing_keys')
    .selectAll()
    .where((eb) => eb.or([eb('publish_until', 'is', null), eb('publish_until', '>', now)]))
    // The current key first, then retired keys newest first.
    .orderBy(sql`retired_at is null`, 'desc')
    .orderBy('retired_at', 'desc')
    .execute();
  return rows.map((r) => ({
    kid: r.kid,
    alg: r.alg,
    publicJwk: r.public_jwk,
    privateKeyEnc: Buffer.from(r.private_key_enc),
    masterKeyId: r.master_key_id,
    createdAt: r.created_at,
    retiredAt: r.retired_at,
    publishUntil: r.publish_until,
  }));
}

export async function listAllSigningKeys(tx: Tx) {
  return tx.selectFrom('signing_keys').select(['kid', 'private_key_enc', 'master_key_id']).execute();
}

export async function retireCurrentSigningKey(tx: Tx, now: Date, publishUntil: Date): Promise<void> {
  await tx.updateTable('signing_keys').set({ retired_at: now, publish_until: publishUntil }).where('retired_at', 'is', null).execute();
}

export async function insertSigningKey(
  tx: Tx,
  key: { kid: string; alg: string; publicJwk: JWK; privateKeyEnc: Buffer; masterKeyId: string; createdAt: Date },
): Promise<void> {
  await tx
    .insertInto('signing_keys')
    .values({
      kid: key.kid,
      alg: key.alg,
      public_jwk: JSON.stringify(key.publicJwk),
      private_key_enc: key.privateKeyEnc,
      master_key_id: key.masterKeyId,
      created_at: key.createdAt,
    })
    .execute();
}

export async function replaceSigningKeyEnc(tx: Tx, kid: string, enc: Buffer, masterKeyId: string): Promise<void> {
  await tx.updateTable('signing_keys').set({ private_key_enc: enc, master_key_id: masterKeyId }).where('kid', '=', kid).execute();
}

/** Removes retired keys that are no longer published (nothing they signed can still be valid). */
export async function deleteExpiredSigningKeys(tx: Tx, now: Date): Promise<number> {
  const result = await tx.deleteFrom('signing_keys').where('publish_until', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** One published signing key by kid (global table): for a key another instance started signing with. */
export async function publishedSigningKey(tx: Tx, kid: string, now: Date) {
  return tx
    .selectFrom('signing_keys')
    .select(['kid', 'alg', 'public_jwk', 'publish_until'])
    .where('kid', '=', kid)
    .where((eb) => eb.or([eb('publish_until', 'is', null), eb('publish_until', '>', now)]))
    .executeTakeFirst();
}
