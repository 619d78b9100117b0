import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import type { SsoConnectionsTable } from './sso.tables.js';
import './sso.tables.js';

export type ConnectionRow = Selectable<SsoConnectionsTable>;

export interface ConnectionValues {
  readonly name: string;
  readonly enabled: boolean;
  readonly domains: string[];
  readonly defaultRoleId: string | null;
  readonly rulesMode: string;
  readonly rules: unknown[];
  readonly claimMapping: Record<string, unknown>;
  readonly mfaPolicy: Record<string, unknown>;
  readonly config: Record<string, unknown>;
  readonly discovery: Record<string, unknown> | null;
  readonly discoveryFetchedAt: Date | null;
}

const columns = (v: ConnectionValues) => ({
  name: v.name,
  enabled: v.enabled,
  domains: v.domains,
  default_role_id: v.defaultRoleId,
  rules_mode: v.rulesMode,
  rules: JSON.stringify(v.rules),
  claim_mapping: JSON.stringify(v.claimMapping),
  mfa_policy: JSON.stringify(v.mfaPolicy),
  config: JSON.stringify(v.config),
  discovery: v.discovery === null ? null : JSON.stringify(v.discovery),
  discovery_fetched_at: v.discoveryFetchedAt,
});

export async function insertConnection(tx: Tx, tenantId: string, row: ConnectionValues & { id: string; type: string; secret: Buffer | null; actorId: string | null; now: Date }): Promise<void> {
  await tx
    .insertInto('sso_connections')
    .values({ tenant_id: tenantId, id: row.id, type: row.type, ...columns(row), client_secret_enc: row.secret, created_by: row.actorId, created_at: row.now, updated_by: row.actorId, updated_at: row.now })
    .execute();
}

export async function listConnections(tx: Tx, tenantId: string): Promise<ConnectionRow[]> {
  return tx.selectFrom('sso_connections').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
}

/** The connection, locked for the rest of the transaction when `forUpdate`. */
export async function findConnection(tx: Tx, tenantId: string, id: string, forUpdate = false): Promise<ConnectionRow | undefined> {
  const query = tx.selectFrom('sso_connections').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export async function nameTaken(tx: Tx, tenantId: string, name: string, exceptId?: string): Promise<boolean> {
  let query = tx.selectFrom('sso_connections').select('id').where('tenant_id', '=', tenantId).where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()));
  if (exceptId) query = query.where('id', '<>', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

export async function updateConnection(tx: Tx, tenantId: string, id: string, v: ConnectionValues & { actorId: string | null; now: Date }): Promise<void> {
  await tx.updateTable('sso_connections').set({ ...columns(v), updated_by: v.actorId, updated_at: v.now }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

export async function setSecret(tx: Tx, tenantId: string, id: string, secret: Buffer, actorId: string | null, now: Date): Promise<void> {
  await tx.updateTable('sso_connections').set({ client_secret_enc: secret, updated_by: actorId, updated_at: now }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

/**
 * When the IdP's published document (OIDC discovery, SAML metadata from its URL) was last fetched, when the fetch
 * found nothing new: the settings and `updated_at` stay as they are.
 */
export async function setFetchedAt(tx: Tx, tenantId: string, id: string, at: Date): Promise<void> {
  await tx.updateTable('sso_connections').set({ discovery_fetched_at: at }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

/** The connection's published client JWKS and its current private key (private_key_jwt); null both to clear. */
export async function setClientKeys(tx: Tx, tenantId: string, id: string, jwks: { keys: Record<string, unknown>[] } | null, keyEnc: Buffer | null, actorId: string | null, now: Date): Promise<void> {
  await tx
    .updateTable('sso_connections')
    .set({ client_jwks: jwks === null ? null : JSON.stringify(jwks), client_key_enc: keyEnc, updated_by: actorId, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .execute();
}

/** The connection's SAML SP key pairs (the current first, private keys encrypted); null to clear. */
export async function setSamlSpKeys(tx: Tx, tenantId: string, id: string, keys: { keys: Record<string, unknown>[] } | null, actorId: string | null, now: Date): Promise<void> {
  await tx
    .updateTable('sso_connections')
    .set({ saml_sp_keys: keys === null ? null : JSON.stringify(keys), updated_by: actorId, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .execute();
}

/** A SAML login: the connection, the user, and the NameID / SessionIndex its IdP will name it by at logout. */
export async function insertLogin(tx: Tx, tenantId: string, l: { id: string; connectionId: string; userId: string; nameId: string; nameIdFormat: string | null; sessionIndex: string | null; now: Date }): Promise<void> {
  await tx
    .insertInto('sso_logins')
    .values({ tenant_id: tenantId, id: l.id, connection_id: l.connectionId, user_id: l.userId, name_id: l.nameId, name_id_format: l.nameIdFormat, session_index: l.sessionIndex, created_at: l.now })
    .execute();
}

export async function findLogin(tx: Tx, tenantId: string, id: string) {
  return tx.selectFrom('sso_logins').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

/**
 * The logins of the connection a LogoutRequest names (saml-core §3.7.1): by NameID, and by one of its SessionIndex
 * values when it carries any (else every session of that NameID).
 */
export async function findLoginIds(tx: Tx, tenantId: string, connectionId: string, nameId: string, sessionIndexes: readonly string[]): Promise<string[]> {
  let q = tx.selectFrom('sso_logins').select('id').where('tenant_id', '=', tenantId).where('connection_id', '=', connectionId).where('name_id', '=', nameId);
  if (sessionIndexes.length > 0) q = q.where('session_index', 'in', [...sessionIndexes]);
  return (await q.execute()).map((r) => r.id);
}

export async function deleteConnection(tx: Tx, tenantId: string, id: string): Promise<void> {
  await tx.deleteFrom('sso_connections').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

/** The user an IdP subject of the connection signs in as (OpenID Connect Core §5.7: `sub` is the stable key). */
export async function findIdentityUser(tx: Tx, tenantId: string, connectionId: string, subject: string): Promise<string | undefined> {
  const row = await tx.selectFrom('sso_identities').select('user_id').where('tenant_id', '=', tenantId).where('connection_id', '=', connectionId).where('subject', '=', subject).executeTakeFirst();
  return row?.user_id;
}

export async function linkIdentity(tx: Tx, tenantId: string, connectionId: string, subject: string, userId: string, now: Date): Promise<void> {
  await tx
    .insertInto('sso_identities')
    .values({ tenant_id: tenantId, connection_id: connectionId, subject, user_id: userId, created_at: now, last_login_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'connection_id', 'subject']).doUpdateSet({ user_id: userId, last_login_at: now }))
    .execute();
}

/** The tenant of a connection, read without a tenant context (SQL function of migration 0014). */
export async function connectionTenant(tx: Tx, connectionId: string): Promise<string | undefined> {
  const result = await sql<{ tenant: string | null }>`select tessera_sso_connection_tenant(${connectionId}::uuid) as tenant`.execute(tx);
  return result.rows[0]?.tenant ?? undefined;
}

// ---- "Test connection" outcomes ----

export interface ConnectionTestRow {
  id: string;
  connection_id: string;
  started_by: string;
  status: string;
  outcome: Record<string, unknown> | null;
  created_at: Date;
  expires_at: Date;
}

/** Deletes the tenant's test outcomes past their time (called whenever a test starts). */
export async function purgeTests(tx: Tx, tenantId: string, now: Date): Promise<void> {
  await tx.deleteFrom('sso_connection_tests').where('tenant_id', '=', tenantId).where('expires_at', '<=', now).execute();
}

export async function insertTest(tx: Tx, tenantId: string, t: { id: string; connectionId: string; startedBy: string; now: Date; expiresAt: Date }): Promise<void> {
  await tx
    .insertInto('sso_connection_tests')
    .values({ tenant_id: tenantId, id: t.id, connection_id: t.connectionId, started_by: t.startedBy, status: 'pending', outcome: null, created_at: t.now, expires_at: t.expiresAt })
    .execute();
}

/** The test of the connection, unless it expired. */
export async function findTest(tx: Tx, tenantId: string, connectionId: string, id: string, now: Date): Promise<ConnectionTestRow | undefined> {
  return tx
    .selectFrom('sso_connection_tests')
    .select(['id', 'connection_id', 'started_by', 'status', 'outcome', 'created_at', 'expires_at'])
    .where('tenant_id', '=', tenantId)
    .where('connection_id', '=', connectionId)
    .where('id', '=', id)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Records a test's outcome (the last sign-in through its link wins). */
export async function finishTest(tx: Tx, tenantId: string, id: string, status: 'succeeded' | 'failed', outcome: Record<string, unknown>): Promise<void> {
  await tx.updateTable('sso_connection_tests').set({ status, outcome: JSON.stringify(outcome) }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

/** The tenant's enabled connections listing `domain`, by name (Require SSO and discovery pick the first). */
export async function enabledConnectionsForDomain(tx: Tx, tenantId: string, domain: string): Promise<{ id: string; name: string }[]> {
  return tx
    .selectFrom('sso_connections')
    .select(['id', 'name'])
    .where('tenant_id', '=', tenantId)
    .where('enabled', '=', true)
    .where(sql<boolean>`${domain} = any(domains)`)
    .orderBy('name')
    .orderBy('id')
    .execute();
}

export interface BreakGlassRow {
  readonly user_id: string;
  readonly created_by: string | null;
  readonly created_at: Date;
}

/** The tenant's break-glass users, oldest first. */
export async function listBreakGlass(tx: Tx, tenantId: string): Promise<BreakGlassRow[]> {
  return tx.selectFrom('sso_break_glass_users').select(['user_id', 'created_by', 'created_at']).where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('user_id').execute();
}

export async function isBreakGlassUser(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  return (await tx.selectFrom('sso_break_glass_users').select('user_id').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst()) !== undefined;
}

/** Makes the tenant's break-glass list exactly `userIds` (rows of users kept keep their creation). */
export async function replaceBreakGlass(tx: Tx, tenantId: string, userIds: readonly string[], actorId: string | null, now: Date): Promise<void> {
  let del = tx.deleteFrom('sso_break_glass_users').where('tenant_id', '=', tenantId);
  if (userIds.length > 0) del = del.where('user_id', 'not in', [...userIds]);
  await del.execute();
  if (userIds.length === 0) return;
  await tx
    .insertInto('sso_break_glass_users')
    .values(userIds.map((userId) => ({ tenant_id: tenantId, user_id: userId, created_by: actorId, created_at: now })))
    .onConflict((oc) => oc.columns(['tenant_id', 'user_id']).doNothing())
    .execute();
}

export interface SettingsRow {
  readonly allowed_return_origins: string[];
  readonly updated_by: string | null;
  readonly updated_at: Date;
}

export async function readSettings(tx: Tx, tenantId: string): Promise<SettingsRow | undefined> {
  return tx.selectFrom('sso_settings').select(['allowed_return_origins', 'updated_by', 'updated_at']).where('tenant_id', '=', tenantId).executeTakeFirst();
}

export async function upsertSettings(tx: Tx, tenantId: string, origins: readonly string[], actorId: string | null, now: Date): Promise<void> {
  await tx
    .insertInto('sso_settings')
    .values({ tenant_id: tenantId, allowed_return_origins: [...origins], updated_by: actorId, updated_at: now })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ allowed_return_origins: [...origins], updated_by: actorId, updated_at: now }))
    .execute();
}
