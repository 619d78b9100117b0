import type { Tx } from '../../db/database.js';

export async function findFactor(tx: Tx, tenantId: string, userId: string) {
  return tx
    .selectFrom('user_mfa')
    .select(['totp_secret_enc', 'enabled_at', 'last_used_step'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** Stores a pending (not yet verified) secret, replacing an earlier pending one; an enabled factor is kept. */
export async function savePendingFactor(tx: Tx, tenantId: string, userId: string, secretEnc: Buffer, now: Date): Promise<boolean> {
  const result = await tx
    .insertInto('user_mfa')
    .values({ tenant_id: tenantId, user_id: userId, totp_secret_enc: secretEnc, created_at: now, updated_at: now })
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'user_id'])
        .doUpdateSet({ totp_secret_enc: secretEnc, last_used_step: null, created_at: now, updated_at: now })
        .where('user_mfa.enabled_at', 'is', null),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Enables a pending factor, recording the step of the code that proved it as used. */
export async function enableFactor(tx: Tx, tenantId: string, userId: string, step: number, now: Date): Promise<boolean> {
  const result = await tx
    .updateTable('user_mfa')
    .set({ enabled_at: now, last_used_step: step, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('enabled_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Records `step` as used if it is newer than every step used before (RFC 6238 §5.2). One conditional
 * UPDATE: two requests racing with the same code cannot both succeed, on any number of instances.
 */
export async function consumeStep(tx: Tx, tenantId: string, userId: string, step: number, now: Date): Promise<boolean> {
  const result = await tx
    .updateTable('user_mfa')
    .set({ last_used_step: step, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('enabled_at', 'is not', null)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function replaceRecoveryCodes(tx: Tx, tenantId: string, userId: string, hashes: Buffer[], now: Date): Promise<void> {
  await tx.deleteFrom('mfa_recovery_codes').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  if (hashes.length === 0) return;
  await tx
    .insertInto('mfa_recovery_codes')
    .values(hashes.map((code_hash) => ({ tenant_id: tenantId, user_id: userId, code_hash, created_at: now })))
    .execute();
}

/** Marks an unused recovery code used; false when there is none (wrong, or used already). */
export async function consumeRecoveryCode(tx: Tx, tenantId: string, userId: string, hash: Buffer, now: Date): Promise<boolean> {
  const result = await tx
    .updateTable('mfa_recovery_codes')
    .set({ used_at: now })
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('code_hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countUnusedRecoveryCodes(tx: Tx, tenantId: string, userId: string): Promise<number> {
  const row = await tx
    .selectFrom('mfa_recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Removes the user's factor and recovery codes; true when there was a factor. */
export async function deleteFactor(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  await tx.deleteFrom('mfa_recovery_codes').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  const result = await tx.deleteFrom('user_mfa').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
