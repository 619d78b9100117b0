import type { Tx } from '../../db/database.js';
import './openid-provider.tables.js';

/**
 * oidc-provider's artefacts (global table: the library looks them up by id before any tenant is known; see the
 * migration). Every function takes the hashed id, never the id itself.
 */
export interface ArtifactRow {
  readonly payload: Record<string, unknown>;
  readonly consumed_at: Date | null;
}

export async function upsertArtifact(
  tx: Tx,
  row: { model: string; idHash: Buffer; tenantId: string | null; grantId: string | null; uidHash: Buffer | null; payload: Record<string, unknown>; expiresAt: Date },
): Promise<void> {
  const values = { model: row.model, id_hash: row.idHash, tenant_id: row.tenantId, grant_id: row.grantId, uid_hash: row.uidHash, payload: JSON.stringify(row.payload), expires_at: row.expiresAt };
  await tx
    .insertInto('oidc_provider_artifacts')
    .values(values)
    .onConflict((oc) => oc.columns(['model', 'id_hash']).doUpdateSet({ tenant_id: row.tenantId, grant_id: row.grantId, uid_hash: row.uidHash, payload: values.payload, expires_at: row.expiresAt }))
    .execute();
}

export async function findArtifact(tx: Tx, model: string, idHash: Buffer, now: Date): Promise<ArtifactRow | undefined> {
  return tx.selectFrom('oidc_provider_artifacts').select(['payload', 'consumed_at']).where('model', '=', model).where('id_hash', '=', idHash).where('expires_at', '>', now).executeTakeFirst();
}

export async function findArtifactByUid(tx: Tx, model: string, uidHash: Buffer, now: Date): Promise<ArtifactRow | undefined> {
  return tx.selectFrom('oidc_provider_artifacts').select(['payload', 'consumed_at']).where('model', '=', model).where('uid_hash', '=', uidHash).where('expires_at', '>', now).executeTakeFirst();
}

/** Marks an artefact consumed, once: the grant id when this call consumed it, null when it was consumed already (or is gone). */
export async function consumeArtifact(tx: Tx, model: string, idHash: Buffer, now: Date): Promise<{ consumed: boolean; grantId: string | null }> {
  const row = await tx
    .updateTable('oidc_provider_artifacts')
    .set({ consumed_at: now })
    .where('model', '=', model)
    .where('id_hash', '=', idHash)
    .where('consumed_at', 'is', null)
    .returning(['grant_id'])
    .executeTakeFirst();
  if (row) return { consumed: true, grantId: row.grant_id };
  const existing = await tx.selectFrom('oidc_provider_artifacts').select(['grant_id']).where('model', '=', model).where('id_hash', '=', idHash).executeTakeFirst();
  return { consumed: false, grantId: existing?.grant_id ?? null };
}

export async function destroyArtifact(tx: Tx, model: string, idHash: Buffer): Promise<void> {
  await tx.deleteFrom('oidc_provider_artifacts').where('model', '=', model).where('id_hash', '=', idHash).execute();
}

/** The artefacts of one kind issued under a grant (`model` undefined: of every kind). */
export async function destroyByGrantId(tx: Tx, grantId: string, model?: string): Promise<void> {
  let query = tx.deleteFrom('oidc_provider_artifacts').where('grant_id', '=', grantId);
  if (model !== undefined) query = query.where('model', '=', model);
  await query.execute();
}

/** Expired artefacts; the provider never reads them again. */
export async function purgeExpired(tx: Tx, now: Date): Promise<number> {
  const result = await tx.deleteFrom('oidc_provider_artifacts').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
