import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Tx } from '../../db/database.js';
import type { ApplicationsTable } from './applications.tables.js';
import './applications.tables.js';

export type ApplicationRow = Selectable<ApplicationsTable>;

export async function insertApplication(tx: Tx, tenantId: string, row: Omit<Insertable<ApplicationsTable>, 'tenant_id'>): Promise<void> {
  await tx.insertInto('applications').values({ ...row, tenant_id: tenantId }).execute();
}

export async function listApplications(tx: Tx, tenantId: string, accountId: string): Promise<ApplicationRow[]> {
  return tx.selectFrom('applications').selectAll().where('tenant_id', '=', tenantId).where('account_id', '=', accountId).orderBy('created_at').execute();
}

export async function findApplication(tx: Tx, tenantId: string, accountId: string, id: string): Promise<ApplicationRow | undefined> {
  return tx.selectFrom('applications').selectAll().where('tenant_id', '=', tenantId).where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

export async function findApplicationByClientId(tx: Tx, tenantId: string, clientId: string): Promise<ApplicationRow | undefined> {
  return tx.selectFrom('applications').selectAll().where('tenant_id', '=', tenantId).where('client_id', '=', clientId).executeTakeFirst();
}

/** Of these client ids, the applications that registered a back-channel logout URI (OIDC Back-Channel Logout 1.0). */
export async function findBackchannelTargets(tx: Tx, tenantId: string, clientIds: readonly string[]): Promise<{ id: string; client_id: string }[]> {
  if (clientIds.length === 0) return [];
  return tx.selectFrom('applications').select(['id', 'client_id']).where('tenant_id', '=', tenantId).where('client_id', 'in', [...clientIds]).where('backchannel_logout_uri', 'is not', null).execute();
}

export async function updateApplication(tx: Tx, tenantId: string, id: string, patch: Updateable<ApplicationsTable>): Promise<void> {
  await tx.updateTable('applications').set(patch).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

export async function deleteApplication(tx: Tx, tenantId: string, id: string): Promise<void> {
  await tx.deleteFrom('applications').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}
