import { type RawBuilder, sql, type Selectable } from 'kysely';
import type { Tx } from '../../db/database.js';
import type { FilterNode, Target } from './filter.js';
import { pathKey } from './filter-eval.js';
import { type AttrDef, ENTERPRISE_USER, type ResolvedPath } from './scim-schema.js';
import { groupIdsOfUserSql, membersJsonSql } from '../identity/index.js';
import type { ScimDirectoriesTable, ScimGroupsTable, ScimRoleMappingsTable, ScimUsersTable } from './scim.tables.js';
import './scim.tables.js';

export type DirectoryRow = Selectable<ScimDirectoriesTable>;
export type ScimUserRow = Selectable<ScimUsersTable>;
/** A SCIM group of the user's directory the user is a member of (the read-only `groups` of a User). */
export interface ScimUserGroup {
  readonly value: string;
  readonly display: string;
}
/** A SCIM user as read: its row and the directory's groups it is a member of (none on a row just inserted). */
export type ScimUserRead = ScimUserRow & { readonly groups?: readonly ScimUserGroup[] };

/**
 * The user's groups among its directory's SCIM groups, as a jsonb array of `{value, display}` (RFC 7643 §4.1.2,
 * read-only, "from the directory's groups"): group ids and displayNames from scim_groups, membership from
 * identity's group_members through its SQL fragment. Other groups of the user (hand-made, other directories',
 * the directory's everyone group) are not the IdP's and are not listed.
 */
const USER_GROUPS_JSON = sql`(select coalesce(jsonb_agg(jsonb_build_object('value', sg.group_id::text, 'display', sg.display_name) order by lower(sg.display_name), sg.group_id), '[]'::jsonb) from scim_groups sg where sg.tenant_id = scim_users.tenant_id and sg.directory_id = scim_users.directory_id and sg.group_id in ${groupIdsOfUserSql(sql.ref('scim_users.tenant_id'), sql.ref('scim_users.user_id'))})`;
export type ScimGroupRow = Selectable<ScimGroupsTable>;
export type RoleMappingRow = Selectable<ScimRoleMappingsTable>;

// ---- directories ----

export async function insertDirectory(tx: Tx, tenantId: string, row: { id: string; name: string; ssoConnectionId: string | null; actorId: string | null; now: Date }): Promise<void> {
  await tx
    .insertInto('scim_directories')
    .values({ tenant_id: tenantId, id: row.id, name: row.name, sso_connection_id: row.ssoConnectionId, created_by: row.actorId, created_at: row.now, updated_by: row.actorId, updated_at: row.now })
    .execute();
}

export async function listDirectories(tx: Tx, tenantId: string): Promise<DirectoryRow[]> {
  return tx.selectFrom('scim_directories').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
}

export async function findDirectory(tx: Tx, tenantId: string, id: string): Promise<DirectoryRow | undefined> {
  return tx.selectFrom('scim_directories').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

export async function directoryNameTaken(tx: Tx, tenantId: string, name: string, exceptId?: string): Promise<boolean> {
  let query = tx.selectFrom('scim_directories').select('id').where('tenant_id', '=', tenantId).where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()));
  if (exceptId) query = query.where('id', '<>', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

export async function updateDirectory(tx: Tx, tenantId: string, id: string, v: { name: string; ssoConnectionId: string | null; actorId: string | null; now: Date }): Promise<void> {
  await tx.updateTable('scim_directories').set({ name: v.name, sso_connection_id: v.ssoConnectionId, updated_by: v.actorId, updated_at: v.now }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

export async function deleteDirectory(tx: Tx, tenantId: string, id: string): Promise<void> {
  await tx.deleteFrom('scim_directories').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

/** The tenant of a directory, read without a tenant context (SQL function of migration 0019). */
export async function directoryTenant(tx: Tx, directoryId: string): Promise<string | undefined> {
  const result = await sql<{ tenant: string | null }>`select tessera_scim_directory_tenant(${directoryId}::uuid) as tenant`.execute(tx);
  return result.rows[0]?.tenant ?? undefined;
}

// ---- tokens ----

export async function insertToken(tx: Tx, tenantId: string, row: { id: string; directoryId: string; hash: Buffer; actorId: string | null; now: Date }): Promise<void> {
  await tx.insertInto('scim_tokens').values({ tenant_id: tenantId, id: row.id, directory_id: row.directoryId, token_hash: row.hash, created_by: row.actorId, created_at: row.now }).execute();
}

export async function listTokens(tx: Tx, tenantId: string, directoryId: string) {
  return tx
    .selectFrom('scim_tokens')
    .select(['id', 'created_by', 'created_at', 'last_used_at', 'revoked_at'])
    .where('tenant_id', '=', tenantId)
    .where('directory_id', '=', directoryId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** The directory's live tokens, row-locked: two concurrent creations cannot both pass the two-token limit. */
export async function lockLiveTokens(tx: Tx, tenantId: string, directoryId: string): Promise<string[]> {
  const rows = await tx.selectFrom('scim_tokens').select('id').where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).where('revoked_at', 'is', null).forUpdate().execute();
  return rows.map((r) => r.id);
}

/** Locks the directory row for the rest of the transaction (serialises token creation per directory). */
export async function lockDirectory(tx: Tx, tenantId: string, id: string): Promise<boolean> {
  const row = await tx.selectFrom('scim_directories').select('id').where('tenant_id', '=', tenantId).where('id', '=', id).forUpdate().executeTakeFirst();
  return row !== undefined;
}

export async function revokeToken(tx: Tx, tenantId: string, directoryId: string, id: string, now: Date): Promise<'revoked' | 'already' | 'missing'> {
  const row = await tx.selectFrom('scim_tokens').select('revoked_at').where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).where('id', '=', id).executeTakeFirst();
  if (!row) return 'missing';
  if (row.revoked_at) return 'already';
  await tx.updateTable('scim_tokens').set({ revoked_at: now }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  return 'revoked';
}

/** The live token of `directoryId` with this hash (a token of another directory is not found). */
export async function findLiveToken(tx: Tx, tenantId: string, directoryId: string, hash: Buffer) {
  return tx
    .selectFrom('scim_tokens')
    .select(['id', 'last_used_at'])
    .where('tenant_id', '=', tenantId)
    .where('directory_id', '=', directoryId)
    .where('token_hash', '=', hash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function touchToken(tx: Tx, tenantId: string, id: string, now: Date): Promise<void> {
  await tx.updateTable('scim_tokens').set({ last_used_at: now }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

// ---- users ----

export interface ScimUserValues {
  readonly userName: string;
  readonly externalId: string | null;
  readonly active: boolean;
  readonly resource: Record<string, unknown>;
}

/** Inserts the SCIM row and returns it as stored (no second read of what was just written). */
export async function insertScimUser(tx: Tx, tenantId: string, directoryId: string, userId: string, v: ScimUserValues, now: Date): Promise<ScimUserRow> {
  return tx
    .insertInto('scim_users')
    .values({ tenant_id: tenantId, directory_id: directoryId, user_id: userId, user_name: v.userName, external_id: v.externalId, active: v.active, resource: JSON.stringify(v.resource), created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findScimUser(tx: Tx, tenantId: string, directoryId: string, userId: string, forUpdate = false): Promise<ScimUserRead | undefined> {
  const query = tx.selectFrom('scim_users').selectAll().select(USER_GROUPS_JSON.$castTo<ScimUserGroup[]>().as('groups')).where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).where('user_id', '=', userId);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

/** The directory an identity user is provisioned by, if any (one at most per tenant). */
export async function directoryOfUser(tx: Tx, tenantId: string, userId: string): Promise<string | undefined> {
  const row = await tx.selectFrom('scim_users').select('directory_id').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
  return row?.directory_id;
}

export async function userNameTaken(tx: Tx, tenantId: string, directoryId: string, userName: string, exceptUserId?: string): Promise<boolean> {
  let query = tx
    .selectFrom('scim_users')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('directory_id', '=', directoryId)
    .where((eb) => eb(eb.fn('lower', ['user_name']), '=', userName.toLowerCase()));
  if (exceptUserId) query = query.where('user_id', '<>', exceptUserId);
  return (await query.executeTakeFirst()) !== undefined;
}

/** Writes the SCIM side of a user and moves its version on. */
export async function updateScimUser(tx: Tx, tenantId: string, directoryId: string, userId: string, v: ScimUserValues, now: Date): Promise<void> {
  await tx
    .updateTable('scim_users')
    .set((eb) => ({ user_name: v.userName, external_id: v.externalId, active: v.active, resource: JSON.stringify(v.resource), updated_at: now, version: eb('version', '+', 1) }))
    .where('tenant_id', '=', tenantId)
    .where('directory_id', '=', directoryId)
    .where('user_id', '=', userId)
    .execute();
}

/** Keeps the `active` mirror equal to the identity user's status (a change made outside SCIM); a change moves the version. */
export async function mirrorActive(tx: Tx, tenantId: string, userId: string, active: boolean, now: Date): Promise<void> {
  await tx
    .updateTable('scim_users')
    .set((eb) => ({ active, updated_at: now, version: eb('version', '+', 1) }))
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('active', '<>', active)
    .execute();
}

export async function deleteScimUser(tx: Tx, tenantId: string, directoryId: string, userId: string): Promise<void> {
  await tx.deleteFrom('scim_users').where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).where('user_id', '=', userId).execute();
}

export async function directoryUserIds(tx: Tx, tenantId: string, directoryId: string): Promise<string[]> {
  const rows = await tx.selectFrom('scim_users').select('user_id').where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).orderBy('user_id').execute();
  return rows.map((r) => r.user_id);
}

// ---- filters → SQL (RFC 7644 §3.4.2.2), parameterised: every operand is a bind parameter ----

/** How a resource type is stored: its columns by canonical attribute path, and the jsonb document column. */
export interface Storage {
  readonly columns: Readonly<Record<string, { readonly sql: RawBuilder<unknown>; readonly kind: 'text' | 'boolean' | 'timestamp' }>>;
  readonly document: RawBuilder<unknown>;
  /** Multi-valued core attributes kept outside the document, as an SQL jsonb array (a Group's `members`). */
  readonly arrays?: Readonly<Record<string, RawBuilder<unknown>>>;
}

export const USER_STORAGE: Storage = {
  columns: {
    id: { sql: sql`scim_users.user_id::text`, kind: 'text' },
    userName: { sql: sql.ref('scim_users.user_name'), kind: 'text' },
    externalId: { sql: sql.ref('scim_users.external_id'), kind: 'text' },
    active: { sql: sql.ref('scim_users.active'), kind: 'boolean' },
    'meta.created': { sql: sql.ref('scim_users.created_at'), kind: 'timestamp' },
    'meta.lastModified': { sql: sql.ref('scim_users.updated_at'), kind: 'timestamp' },
  },
  document: sql.ref('scim_users.resource'),
  arrays: { groups: USER_GROUPS_JSON },
};

/** `%`, `_` and `\` taken literally in a LIKE pattern (PostgreSQL's default escape character). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const FALSE = sql<boolean>`false`;

/** The jsonb value a resource-scoped path names (its container, the attribute, the sub-attribute). */
function jsonAt(storage: Storage, path: ResolvedPath): RawBuilder<unknown> {
  const array = path.schema ? undefined : storage.arrays?.[path.attr.name];
  if (array) return path.sub ? sql`(${array} -> ${path.sub.name}::text)` : array;
  let expr: RawBuilder<unknown> = storage.document;
  if (path.schema) expr = sql`(${expr} -> ${path.schema}::text)`;
  expr = sql`(${expr} -> ${path.attr.name}::text)`;
  if (path.sub) expr = sql`(${expr} -> ${path.sub.name}::text)`;
  return expr;
}

interface Operand {
  /** The value as text (strings), or null when the attribute is not stored as text. */
  readonly text: RawBuilder<unknown> | null;
  /** The value as jsonb (document attributes), for booleans and presence. */
  readonly json: RawBuilder<unknown> | null;
  readonly column: { readonly sql: RawBuilder<unknown>; readonly kind: 'text' | 'boolean' | 'timestamp' } | null;
}

function operand(storage: Storage, target: Target, element: RawBuilder<unknown> | null): Operand {
  if (target.scope === 'element') {
    const json = sql`(${element} -> ${target.def.name}::text)`;
    return { text: sql`(${element} ->> ${target.def.name}::text)`, json, column: null };
  }
  const column = storage.columns[pathKey(target.path)];
  if (column) return { text: column.kind === 'text' ? column.sql : null, json: null, column };
  const json = jsonAt(storage, target.path);
  let text: RawBuilder<unknown> = storage.document;
  if (target.path.schema) text = sql`(${text} -> ${target.path.schema}::text)`;
  text = target.path.sub ? sql`(${text} -> ${target.path.attr.name}::text ->> ${target.path.sub.name}::text)` : sql`(${text} ->> ${target.path.attr.name}::text)`;
  return { text, json, column: null };
}

function compareSql(node: Extract<FilterNode, { kind: 'compare' }>, def: AttrDef, o: Operand): RawBuilder<boolean> {
  const { op, value } = node;
  if (op === 'ne') return sql<boolean>`not ${compareSql({ ...node, op: 'eq' }, def, o)}`;
  if (typeof value === 'boolean') {
    if (o.column?.kind === 'boolean') return sql<boolean>`coalesce(${o.column.sql} = ${value}, false)`;
    if (o.json) return sql<boolean>`coalesce(${o.json} = ${JSON.stringify(value)}::jsonb, false)`;
    return FALSE;
  }
  if (value instanceof Date) {
    if (o.column?.kind !== 'timestamp') return FALSE;
    const cmp = { eq: sql`=`, gt: sql`>`, ge: sql`>=`, lt: sql`<`, le: sql`<=` }[op as 'eq' | 'gt' | 'ge' | 'lt' | 'le'];
    return sql<boolean>`coalesce(${o.column.sql} ${cmp} ${value}::timestamptz, false)`;
  }
  if (!o.text) return FALSE;
  // A JSON value of another type than string never equals a string (the in-memory evaluator agrees).
  const isString = o.json ? sql<boolean>`jsonb_typeof(${o.json}) = 'string'` : sql<boolean>`true`;
  const x = def.caseExact ? o.text : sql`lower(${o.text})`;
  const v = (param: string) => (def.caseExact ? sql`${param}::text` : sql`lower(${param}::text)`);
  let test: RawBuilder<boolean>;
  switch (op) {
    case 'eq':
      test = sql<boolean>`${x} = ${v(value)}`;
      break;
    case 'co':
      test = sql<boolean>`${x} like ${v(`%${escapeLike(value)}%`)}`;
      break;
    case 'sw':
      test = sql<boolean>`${x} like ${v(`${escapeLike(value)}%`)}`;
      break;
    case 'ew':
      test = sql<boolean>`${x} like ${v(`%${escapeLike(value)}`)}`;
      break;
    default: {
      const cmp = { gt: sql`>`, ge: sql`>=`, lt: sql`<`, le: sql`<=` }[op];
      test = sql<boolean>`(${x}) collate "C" ${cmp} (${v(value)}) collate "C"`;
    }
  }
  return sql<boolean>`coalesce(${isString} and ${test}, false)`;
}

function presentSql(o: Operand): RawBuilder<boolean> {
  if (o.column) return o.column.kind === 'text' ? sql<boolean>`coalesce(${o.column.sql} <> '', false)` : sql<boolean>`(${o.column.sql} is not null)`;
  return sql<boolean>`coalesce(${o.json} not in ('null'::jsonb, '""'::jsonb, '[]'::jsonb, '{}'::jsonb), false)`;
}

function nodeSql(storage: Storage, node: FilterNode, element: RawBuilder<unknown> | null): RawBuilder<boolean> {
  switch (node.kind) {
    case 'and':
    case 'or': {
      const parts = node.items.map((n) => nodeSql(storage, n, element));
      return sql<boolean>`(${sql.join(parts, node.kind === 'and' ? sql` and ` : sql` or `)})`;
    }
    case 'not':
      return sql<boolean>`(not ${nodeSql(storage, node.item, element)})`;
    case 'present':
      return presentSql(operand(storage, node.target, element));
    case 'compare': {
      const def = node.target.scope === 'element' ? node.target.def : (node.target.path.sub ?? node.target.path.attr);
      return compareSql(node, def, operand(storage, node.target, element));
    }
    case 'some': {
      const list = jsonAt(storage, node.path);
      const e = sql.ref('scim_e.v');
      return sql<boolean>`exists (select 1 from jsonb_array_elements(case when jsonb_typeof(${list}) = 'array' then ${list} else '[]'::jsonb end) as scim_e(v) where ${nodeSql(storage, node.filter, e)})`;
    }
  }
}

/** A checked filter as a boolean SQL expression over a resource type's storage (every operand a bind parameter). */
export function filterSql(storage: Storage, node: FilterNode): RawBuilder<boolean> {
  return nodeSql(storage, node, null);
}

function sortSql(storage: Storage, path: ResolvedPath): RawBuilder<unknown> {
  const column = storage.columns[pathKey(path)];
  if (column) return column.sql;
  if (path.attr.multiValued) {
    // RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, else its first.
    const list = jsonAt(storage, { ...path, sub: null });
    const sub = path.sub?.name ?? 'value';
    return sql`coalesce((select scim_p.v ->> ${sub}::text from jsonb_array_elements(case when jsonb_typeof(${list}) = 'array' then ${list} else '[]'::jsonb end) as scim_p(v) where scim_p.v -> 'primary' = 'true'::jsonb limit 1), ${list} -> 0 ->> ${sub}::text)`;
  }
  let text: RawBuilder<unknown> = storage.document;
  if (path.schema) text = sql`(${text} -> ${path.schema}::text)`;
  return path.sub ? sql`(${text} -> ${path.attr.name}::text ->> ${path.sub.name}::text)` : sql`(${text} ->> ${path.attr.name}::text)`;
}

export interface ScimUserQuery {
  readonly filter: FilterNode | null;
  readonly sortBy: ResolvedPath | null;
  readonly descending: boolean;
  readonly offset: number;
  readonly limit: number;
}

/** One page of a directory's users matching the filter, and how many match in all. */
export async function queryScimUsers(tx: Tx, tenantId: string, directoryId: string, query: ScimUserQuery): Promise<{ rows: ScimUserRead[]; total: number }> {
  let base = tx.selectFrom('scim_users').where('scim_users.tenant_id', '=', tenantId).where('scim_users.directory_id', '=', directoryId);
  if (query.filter) base = base.where(filterSql(USER_STORAGE, query.filter));
  const count = await base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const total = Number(count.n);
  if (query.limit === 0) return { rows: [], total };
  let page = base.selectAll('scim_users').select(USER_GROUPS_JSON.$castTo<ScimUserGroup[]>().as('groups'));
  if (query.sortBy) {
    const key = sortSql(USER_STORAGE, query.sortBy);
    const def = query.sortBy.sub ?? query.sortBy.attr;
    const expr = def.type === 'string' && !def.caseExact ? sql`lower(${key}::text) collate "C"` : key;
    page = page.orderBy(sql`${expr} ${query.descending ? sql`desc nulls last` : sql`asc nulls last`}`);
  }
  const rows = await page.orderBy('scim_users.created_at').orderBy('scim_users.user_id').offset(query.offset).limit(query.limit).execute();
  return { rows, total };
}

// ---- groups (RFC 7643 §4.2): the SCIM side of an identity group; members are identity's ----

export const GROUP_STORAGE: Storage = {
  columns: {
    id: { sql: sql`scim_groups.group_id::text`, kind: 'text' },
    displayName: { sql: sql.ref('scim_groups.display_name'), kind: 'text' },
    externalId: { sql: sql.ref('scim_groups.external_id'), kind: 'text' },
    'meta.created': { sql: sql.ref('scim_groups.created_at'), kind: 'timestamp' },
    'meta.lastModified': { sql: sql.ref('scim_groups.updated_at'), kind: 'timestamp' },
  },
  document: sql.ref('scim_groups.resource'),
  arrays: { members: membersJsonSql(sql.ref('scim_groups.tenant_id'), sql.ref('scim_groups.group_id')) },
};

export interface ScimGroupValues {
  readonly displayName: string;
  readonly externalId: string | null;
  readonly resource: Record<string, unknown>;
}

export async function insertScimGroup(tx: Tx, tenantId: string, directoryId: string, groupId: string, v: ScimGroupValues, now: Date): Promise<void> {
  await tx
    .insertInto('scim_groups')
    .values({ tenant_id: tenantId, directory_id: directoryId, group_id: groupId, display_name: v.displayName, external_id: v.externalId, resource: JSON.stringify(v.resource), created_at: now, updated_at: now })
    .execute();
}

export async function findScimGroup(tx: Tx, tenantId: string, directoryId: string, groupId: string, forUpdate = false): Promise<ScimGroupRow | undefined> {
  const query = tx.selectFrom('scim_groups').selectAll().where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).where('group_id', '=', groupId);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export async function displayNameTaken(tx: Tx, tenantId: string, directoryId: string, displayName: string, exceptGroupId?: string): Promise<boolean> {
  let query = tx
    .selectFrom('scim_groups')
    .select('group_id')
    .where('tenant_id', '=', tenantId)
    .where('directory_id', '=', directoryId)
    .where((eb) => eb(eb.fn('lower', ['display_name']), '=', displayName.toLowerCase()));
  if (exceptGroupId) query = query.where('group_id', '<>', exceptGroupId);
  return (await query.executeTakeFirst()) !== undefined;
}

/** Writes the SCIM side of a group and moves its version on (a membership-only change moves it too). */
export async function updateScimGroup(tx: Tx, tenantId: string, directoryId: string, groupId: string, v: ScimGroupValues, now: Date): Promise<void> {
  await tx
    .updateTable('scim_groups')
    .set((eb) => ({ display_name: v.displayName, external_id: v.externalId, resource: JSON.stringify(v.resource), updated_at: now, version: eb('version', '+', 1) }))
    .where('tenant_id', '=', tenantId)
    .where('directory_id', '=', directoryId)
    .where('group_id', '=', groupId)
    .execute();
}

/** The directory's groups: id and displayName (role mappings match on the name). */
export async function directoryGroups(tx: Tx, tenantId: string, directoryId: string): Promise<Array<{ group_id: string; display_name: string }>> {
  return tx.selectFrom('scim_groups').select(['group_id', 'display_name']).where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).orderBy('group_id').execute();
}

/** Of `userIds`, the users this directory provisions (members must be). */
export async function directoryUsersAmong(tx: Tx, tenantId: string, directoryId: string, userIds: readonly string[]): Promise<string[]> {
  if (userIds.length === 0) return [];
  const rows = await tx
    .selectFrom('scim_users')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('directory_id', '=', directoryId)
    .where('user_id', '=', sql<string>`any(${sql.val([...new Set(userIds)])}::uuid[])`)
    .execute();
  return rows.map((r) => r.user_id);
}

/** One page of a directory's groups matching the filter, and how many match in all. */
export async function queryScimGroups(tx: Tx, tenantId: string, directoryId: string, query: ScimUserQuery): Promise<{ rows: ScimGroupRow[]; total: number }> {
  let base = tx.selectFrom('scim_groups').where('scim_groups.tenant_id', '=', tenantId).where('scim_groups.directory_id', '=', directoryId);
  if (query.filter) base = base.where(filterSql(GROUP_STORAGE, query.filter));
  const count = await base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const total = Number(count.n);
  if (query.limit === 0) return { rows: [], total };
  let page = base.selectAll('scim_groups');
  if (query.sortBy) {
    const key = sortSql(GROUP_STORAGE, query.sortBy);
    const def = query.sortBy.sub ?? query.sortBy.attr;
    const expr = def.type === 'string' && !def.caseExact ? sql`lower(${key}::text) collate "C"` : key;
    page = page.orderBy(sql`${expr} ${query.descending ? sql`desc nulls last` : sql`asc nulls last`}`);
  }
  const rows = await page.orderBy('scim_groups.created_at').orderBy('scim_groups.group_id').offset(query.offset).limit(query.limit).execute();
  return { rows, total };
}

// ---- group → role mappings, and the directory's everyone group ----

export async function listRoleMappings(tx: Tx, tenantId: string, directoryId: string): Promise<RoleMappingRow[]> {
  return tx.selectFrom('scim_role_mappings').selectAll().where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).orderBy('position').execute();
}

export async function replaceRoleMappings(tx: Tx, tenantId: string, directoryId: string, rows: ReadonlyArray<{ id: string; groupName: string | null; department?: string | null; departmentGroupId?: string | null; roleId: string }>, actorId: string | null, now: Date): Promise<void> {
  await tx.deleteFrom('scim_role_mappings').where('tenant_id', '=', tenantId).where('directory_id', '=', directoryId).execute();
  if (rows.length === 0) return;
  await tx
    .insertInto('scim_role_mappings')
    .values(rows.map((r, position) => ({ tenant_id: tenantId, directory_id: directoryId, id: r.id, group_name: r.groupName, department: r.department ?? null, department_group_id: r.departmentGroupId ?? null, role_id: r.roleId, position, created_by: actorId, created_at: now })))
    .execute();
}

/**
 * The directory's users whose enterprise `department` is `key` (trimmed, lower-cased; RFC 7643 §4.3), for the
 * identity group of a department mapping.
 */
export async function directoryUsersInDepartment(tx: Tx, tenantId: string, directoryId: string, key: string): Promise<string[]> {
  const rows = await tx
    .selectFrom('scim_users')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('directory_id', '=', directoryId)
    .where(sql<string>`lower(btrim(resource -> ${ENTERPRISE_USER} ->> 'department'))`, '=', key)
    .orderBy('user_id')
    .execute();
  return rows.map((r) => r.user_id);
}

export async function setEveryoneGroup(tx: Tx, tenantId: string, directoryId: string, groupId: string | null): Promise<void> {
  await tx.updateTable('scim_directories').set({ everyone_group_id: groupId }).where('tenant_id', '=', tenantId).where('id', '=', directoryId).execute();
}
