import type { Tx } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError, isAppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { IdentityErrors, type UserEvent } from '../identity/index.js';
import { parseFilter } from './filter.js';
import { applyPatch } from './patch.js';
import { type Doc, invalidValue, normalizeDocument, project, schemasOf } from './resource.js';
import type { ScimCaller } from './scim-caller.js';
import { ScimErrors } from './scim.errors.js';
import { ENTERPRISE_USER, LIST_RESPONSE, type ResourceSchema, resolvePath, USER_RESOURCE } from './scim-schema.js';
import * as store from './scim.store.js';

/** What the users of SCIM need of identity (app.ts wires identity's service): a SCIM user is an identity user. */
export interface IdentityPort {
  createUser(tx: Tx, tenantId: string, input: { email: string; name?: string | null }): Promise<{ id: string }>;
  findUserByEmail(tx: Tx, tenantId: string, email: string): Promise<{ id: string; is_tenant_admin: boolean } | undefined>;
  getUser(tx: Tx, tenantId: string, userId: string): Promise<{ id: string; email: string; active: boolean }>;
  applyDirectoryChange(tx: Tx, tenantId: string, userId: string, changes: { email?: string; name?: string | null; active?: boolean }): Promise<void>;
  assertEmailDomainAllowed(tx: Tx, tenantId: string, email: string): Promise<void>;
}

export interface ScimUsersDeps {
  /** The request's unit of work, refused unless the caller's token is a live token of its directory (DirectoriesService.work). */
  readonly work: <T>(caller: ScimCaller, fn: (tx: Tx) => Promise<T>) => Promise<T>;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly identity: IdentityPort;
  readonly baseUrlOf: (directoryId: string) => string;
  /** The directory's groups follow its users (role-mappings.service.ts): joined on create, left on DELETE. */
  readonly membership?: {
    userProvisioned(tx: Tx, tenantId: string, directoryId: string, userId: string): Promise<void>;
    userRemoved(tx: Tx, tenantId: string, directoryId: string, userId: string): Promise<void>;
    /** The user's enterprise `department` was set or changed: the department mappings' groups follow it. */
    departmentChanged(tx: Tx, tenantId: string, directoryId: string, userId: string, department: string | null): Promise<void>;
  };
}

export interface RequestInfo {
  readonly ip: string;
  readonly userAgent: string | null;
  /** The `If-Match` header (RFC 7644 §3.14), if sent. */
  readonly ifMatch?: string | undefined;
}

export interface ListQuery {
  readonly filter?: string | undefined;
  readonly startIndex?: string | undefined;
  readonly count?: string | undefined;
  readonly sortBy?: string | undefined;
  readonly sortOrder?: string | undefined;
  readonly attributes?: string | undefined;
  readonly excludedAttributes?: string | undefined;
}

/** A resource with its weak ETag (RFC 7644 §3.14), for the `ETag` header. */
export interface Versioned {
  readonly resource: Doc;
  readonly etag: string;
}

/** Default and largest page of a list (ServiceProviderConfig `filter.maxResults`). */
export const DEFAULT_COUNT = 100;
export const MAX_COUNT = 200;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const etagOf = (version: number) => `W/"${version}"`;
const uniqueness = (message: string) => new AppError(ScimErrors['scim.uniqueness'], { message });

/** The attributes kept in columns rather than the jsonb document (filters and uniqueness use them). */
function splitDoc(doc: Doc): store.ScimUserValues & { resource: Doc } {
  const { userName, externalId, active, ...resource } = doc;
  return { userName: userName as string, externalId: (externalId as string | undefined) ?? null, active: active !== false, resource };
}

function docOf(row: store.ScimUserRow): Doc {
  return { userName: row.user_name, ...(row.external_id !== null ? { externalId: row.external_id } : {}), active: row.active, ...row.resource };
}

/**
 * The identity user's sign-in email: the primary email, else the first, else userName when it is an email
 * (Okta's default). Name: displayName, else name.formatted, else given and family names.
 */
function identityFields(doc: Doc): { email: string; name: string | null } {
  const emails = Array.isArray(doc.emails) ? (doc.emails as Doc[]) : [];
  const chosen = emails.find((e) => e.primary === true) ?? emails[0];
  const email = (typeof chosen?.value === 'string' ? chosen.value : typeof doc.userName === 'string' ? doc.userName : '').trim();
  if (email.length > 254 || !EMAIL.test(email)) throw invalidValue('The user needs an email: a primary email in "emails", or a userName that is an email address.');
  const name = doc.name as Doc | undefined;
  const joined = [name?.givenName, name?.familyName].filter((s) => typeof s === 'string').join(' ');
  const display = (doc.displayName as string | undefined) ?? (name?.formatted as string | undefined) ?? (joined !== '' ? joined : null);
  return { email, name: display === null ? null : display.slice(0, 200) };
}

/** The enterprise extension's `department` of a document (RFC 7643 §4.3), null when absent or blank. */
function departmentOf(doc: Doc): string | null {
  const ext = doc[ENTERPRISE_USER] as Doc | undefined;
  const value = typeof ext?.department === 'string' ? ext.department.trim() : '';
  return value === '' ? null : value;
}

export function checkIfMatch(ifMatch: string | undefined, version: number): void {
  if (ifMatch === undefined) return;
  const tags = ifMatch.split(',').map((t) => t.trim());
  // RFC 7644 §3.14 uses weak ETags with If-Match: the comparison is the weak one (RFC 9110 §8.8.3.2).
  const weak = (t: string) => t.replace(/^W\//, '');
  if (tags.includes('*') || tags.some((t) => weak(t) === weak(etagOf(version)))) return;
  throw new AppError(ScimErrors['scim.precondition_failed']);
}

function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^-?\d{1,9}$/.test(value)) throw invalidValue(`${name} must be an integer.`);
  return Number(value);
}

/**
 * The list parameters of RFC 7644 §3.4.2 for a resource type: the filter checked against its schema, startIndex
 * (below 1 is 1), count (negative is 0, at most MAX_COUNT), sortBy (a sortable attribute), sortOrder.
 */
export function listParameters(resource: ResourceSchema, query: ListQuery): { startIndex: number; query: store.ScimUserQuery } {
  const filter = query.filter !== undefined && query.filter.trim() !== '' ? parseFilter(resource, query.filter) : null;
  const startIndex = Math.max(1, intParam(query.startIndex, 'startIndex') ?? 1);
  const count = Math.min(MAX_COUNT, Math.max(0, intParam(query.count, 'count') ?? DEFAULT_COUNT));
  let sortBy = null;
  if (query.sortBy !== undefined && query.sortBy !== '') {
    sortBy = resolvePath(resource, query.sortBy) ?? null;
    if (!sortBy || sortBy.attr.returned === 'never' || (sortBy.attr.type === 'complex' && !sortBy.sub && !sortBy.attr.multiValued)) throw invalidValue(`sortBy: ${query.sortBy} is not a sortable attribute.`);
  }
  const order = (query.sortOrder ?? 'ascending').toLowerCase();
  if (order !== 'ascending' && order !== 'descending') throw invalidValue('sortOrder must be "ascending" or "descending".');
  return { startIndex, query: { filter, sortBy, descending: order === 'descending', offset: startIndex - 1, limit: count } };
}

/**
 * /Users of a SCIM directory (RFC 7644 §3): create, read, list with filters, replace, patch, delete. A SCIM user
 * is an identity user created and changed through identity's port; the scim_users row holds what only SCIM
 * knows. Every request acts as the directory (audit actor `scim_directory`) in the directory's tenant.
 */
export function createScimUsersService({ work, clock, audit, identity, baseUrlOf, membership }: ScimUsersDeps) {
  const actorOf = (caller: ScimCaller, info: RequestInfo): AuditActor => ({ type: 'scim_directory', id: caller.directoryId, ip: info.ip, userAgent: info.userAgent });

  function represent(caller: ScimCaller, row: store.ScimUserRead): Doc {
    const doc = docOf(row);
    const { userName, externalId, active, ...rest } = doc;
    const base = baseUrlOf(caller.directoryId);
    // RFC 7643 §4.1.2 `groups`: read-only, from the directory's groups (unassigned, so left out, when there are none).
    const groups = (row.groups ?? []).map((g) => ({ value: g.value, $ref: `${base}/Groups/${g.value}`, display: g.display, type: 'direct' }));
    return {
      schemas: schemasOf(USER_RESOURCE, doc),
      id: row.user_id,
      ...(externalId !== undefined ? { externalId } : {}),
      userName,
      ...rest,
      ...(groups.length > 0 ? { groups } : {}),
      active,
      meta: {
        resourceType: 'User',
        created: new Date(row.created_at).toISOString(),
        lastModified: new Date(row.updated_at).toISOString(),
        location: `${base}/Users/${row.user_id}`,
        version: etagOf(row.version),
      },
    };
  }

  const versioned = (caller: ScimCaller, row: store.ScimUserRead): Versioned => ({ resource: represent(caller, row), etag: etagOf(row.version) });

  async function findOrThrow(tx: Tx, caller: ScimCaller, userId: string, forUpdate = false): Promise<store.ScimUserRead> {
    const row = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(userId) ? await store.findScimUser(tx, caller.tenantId, caller.directoryId, userId, forUpdate) : undefined;
    if (!row) throw new AppError(ScimErrors['scim.resource_not_found'], { message: `No user ${userId} in this directory.` });
    return row;
  }

  /** identity's `email_taken` is SCIM's `uniqueness`, its domain rule an `invalidValue` (RFC 7644 §3.12). */
  function asScimError(error: unknown): unknown {
    if (isAppError(error) && error.code === IdentityErrors['identity.email_taken']) return uniqueness('The email belongs to another user of the tenant.');
    if (isAppError(error) && error.code === IdentityErrors['identity.email_domain_mismatch']) return invalidValue("The email's domain is not one the tenant allows (its security settings restrict email domains).");
    return error;
  }

  async function identityChange(tx: Tx, tenantId: string, userId: string, changes: Parameters<IdentityPort['applyDirectoryChange']>[3]): Promise<void> {
    try {
      await identity.applyDirectoryChange(tx, tenantId, userId, changes);
    } catch (error) {
      throw asScimError(error);
    }
  }

  async function statusAudit(tx: Tx, caller: ScimCaller, actor: AuditActor, userId: string, before: boolean, after: boolean): Promise<void> {
    if (before === after) return;
    await audit.record(tx, caller.tenantId, { action: after ? 'scim.user.reactivated' : 'scim.user.deactivated', actor, target: { type: 'user', id: userId }, outcome: 'success', details: { directoryId: caller.directoryId } });
  }

  /** Writes a replaced document (PUT, PATCH): uniqueness, the SCIM row, then identity's user (email, name, status). */
  async function writeDoc(tx: Tx, caller: ScimCaller, actor: AuditActor, row: store.ScimUserRow, next: Doc, kind: 'put' | 'patch'): Promise<store.ScimUserRow> {
    const { tenantId, directoryId } = caller;
    const before = docOf(row);
    if (next.active === undefined) next.active = row.active;
    if (JSON.stringify(before) === JSON.stringify(next)) return row;
    const values = splitDoc(next);
    if (values.userName.toLowerCase() !== row.user_name.toLowerCase() && (await store.userNameTaken(tx, tenantId, directoryId, values.userName, row.user_id))) {
      throw uniqueness(`userName ${values.userName} is taken in this directory.`);
    }
    const fields = identityFields(next);
    await store.updateScimUser(tx, tenantId, directoryId, row.user_id, values, clock.now());
    await identityChange(tx, tenantId, row.user_id, { email: fields.email, name: fields.name, active: values.active });
    // A department move (PUT, PATCH with a path or Entra's path-less URN key: the document is already normalised)
    // re-evaluates the department role mappings in this unit of work (issue's "department moves re-evaluate it").
    const department = departmentOf(next);
    if (department?.toLowerCase() !== departmentOf(before)?.toLowerCase()) await membership?.departmentChanged(tx, tenantId, directoryId, row.user_id, department);
    const changed = Object.keys({ ...before, ...next }).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(next[k]));
    await audit.record(tx, tenantId, { action: 'scim.user.updated', actor, target: { type: 'user', id: row.user_id }, outcome: 'success', details: { directoryId, method: kind, attributes: changed } });
    await statusAudit(tx, caller, actor, row.user_id, row.active, values.active);
    return (await store.findScimUser(tx, tenantId, directoryId, row.user_id))!;
  }

  return {
    /** POST /Users (RFC 7644 §3.3). */
    create(caller: ScimCaller, info: RequestInfo, body: unknown): Promise<Versioned> {
      const { tenantId, directoryId } = caller;
      const actor = actorOf(caller, info);
      const created = work(caller, async (tx) => {
        const doc = normalizeDocument(USER_RESOURCE, body);
        if (doc.active === undefined) doc.active = true;
        const values = splitDoc(doc);
        // userName's uniqueness per directory (RFC 7643 §4.1.1) is decided by the unique index on insert, not read
        // first: a taken userName aborts the unit of work (nothing it wrote stays) and is `uniqueness` below.
        const fields = identityFields(doc);
        // The email decides: an existing user of the tenant with it is linked (the IdP adopts an account that
        // existed before provisioning, e.g. created by hand or by SSO sign-in) unless it is already provisioned by
        // a directory or is a tenant administrator; then 409 `uniqueness`, never a second user with the email.
        const existing = await identity.findUserByEmail(tx, tenantId, fields.email);
        let userId: string;
        if (existing) {
          if ((await store.directoryOfUser(tx, tenantId, existing.id)) !== undefined) throw uniqueness('The email belongs to a user another SCIM resource already provisions.');
          if (existing.is_tenant_admin) throw uniqueness('The email belongs to a tenant administrator, whom SCIM does not take over.');
          userId = existing.id;
        } else {
          await identity.assertEmailDomainAllowed(tx, tenantId, fields.email).catch((error: unknown) => {
            throw asScimError(error);
          });
          userId = (await identity.createUser(tx, tenantId, { email: fields.email, name: fields.name })).id;
        }
        const before = existing ? (await identity.getUser(tx, tenantId, userId)).active : true;
        const row = await store.insertScimUser(tx, tenantId, directoryId, userId, values, clock.now());
        await membership?.userProvisioned(tx, tenantId, directoryId, userId);
        const department = departmentOf(doc);
        if (department !== null) await membership?.departmentChanged(tx, tenantId, directoryId, userId, department);
        // A user identity just created already has the document's email and name and is active: only a linked
        // user, or one created inactive, has identity changes to apply (a no-op change would cost a read).
        if (existing || !values.active) await identityChange(tx, tenantId, userId, { email: fields.email, name: fields.name, active: values.active });
        await audit.record(tx, tenantId, { action: 'scim.user.created', actor, target: { type: 'user', id: userId }, outcome: 'success', details: { directoryId, userName: values.userName, linkedExistingUser: existing !== undefined } });
        await statusAudit(tx, caller, actor, userId, before, values.active);
        return versioned(caller, row);
      });
      // Two concurrent creations of one userName: the loser meets the unique index, which is `uniqueness` too.
      // identity's own unique-email guard (a concurrent create with the same email) is `uniqueness` as well.
      return created.catch((error: unknown) => {
        if (isUniqueViolation(error)) {
          const constraint = (error as { constraint?: unknown }).constraint;
          throw uniqueness(constraint === 'scim_users_user_name_key' ? 'The userName is taken in this directory.' : 'The userName or email was taken concurrently.');
        }
        throw asScimError(error);
      });
    },

    /** GET /Users/{id} (RFC 7644 §3.4.1). */
    get(caller: ScimCaller, userId: string, query: Pick<ListQuery, 'attributes' | 'excludedAttributes'>): Promise<Versioned> {
      return work(caller, async (tx) => {
        const v = versioned(caller, await findOrThrow(tx, caller, userId));
        return { ...v, resource: project(USER_RESOURCE, v.resource, query.attributes, query.excludedAttributes) };
      });
    },

    /** GET /Users (RFC 7644 §3.4.2): filter, sort, 1-based pagination, projection. */
    list(caller: ScimCaller, query: ListQuery): Promise<Doc> {
      const { startIndex, query: q } = listParameters(USER_RESOURCE, query);
      return work(caller, async (tx) => {
        const { rows, total } = await store.queryScimUsers(tx, caller.tenantId, caller.directoryId, q);
        return {
          schemas: [LIST_RESPONSE],
          totalResults: total,
          startIndex,
          itemsPerPage: rows.length,
          Resources: rows.map((r) => project(USER_RESOURCE, represent(caller, r), query.attributes, query.excludedAttributes)),
        };
      });
    },

    /** PUT /Users/{id} (RFC 7644 §3.5.1): the document is replaced; read-only attributes are ignored. */
    replace(caller: ScimCaller, info: RequestInfo, userId: string, body: unknown): Promise<Versioned> {
      return work(caller, async (tx) => {
        const row = await findOrThrow(tx, caller, userId, true);
        checkIfMatch(info.ifMatch, row.version);
        const next = normalizeDocument(USER_RESOURCE, body);
        return versioned(caller, await writeDoc(tx, caller, actorOf(caller, info), row, next, 'put'));
      });
    },

    /** PATCH /Users/{id} (RFC 7644 §3.5.2). */
    patch(caller: ScimCaller, info: RequestInfo, userId: string, body: unknown): Promise<Versioned> {
      return work(caller, async (tx) => {
        const row = await findOrThrow(tx, caller, userId, true);
        checkIfMatch(info.ifMatch, row.version);
        const patched = applyPatch(USER_RESOURCE, docOf(row), body);
        const next = normalizeDocument(USER_RESOURCE, patched);
        return versioned(caller, await writeDoc(tx, caller, actorOf(caller, info), row, next, 'patch'));
      });
    },

    /**
     * DELETE /Users/{id} (RFC 7644 §3.6): the identity user is deactivated (every session ends) and no longer
     * a resource of the directory; the account and its audit trail stay.
     */
    remove(caller: ScimCaller, info: RequestInfo, userId: string): Promise<void> {
      return work(caller, async (tx) => {
        const row = await findOrThrow(tx, caller, userId, true);
        checkIfMatch(info.ifMatch, row.version);
        const actor = actorOf(caller, info);
        await identityChange(tx, caller.tenantId, userId, { active: false });
        await membership?.userRemoved(tx, caller.tenantId, caller.directoryId, userId);
        await store.deleteScimUser(tx, caller.tenantId, caller.directoryId, userId);
        await audit.record(tx, caller.tenantId, { action: 'scim.user.deleted', actor, target: { type: 'user', id: userId }, outcome: 'success', details: { directoryId: caller.directoryId, userName: row.user_name } });
      });
    },

    /** De-provisions every user of a directory that is being deleted (in the deletion's unit of work). */
    async deprovisionDirectory(tx: Tx, tenantId: string, directoryId: string, actor: AuditActor): Promise<number> {
      let count = 0;
      for (const userId of await store.directoryUserIds(tx, tenantId, directoryId)) {
        const user = await identity.getUser(tx, tenantId, userId);
        if (!user.active) continue;
        await identity.applyDirectoryChange(tx, tenantId, userId, { active: false });
        await audit.record(tx, tenantId, { action: 'scim.user.deactivated', actor, target: { type: 'user', id: userId }, outcome: 'success', details: { directoryId, reason: 'directory_deleted' } });
        count++;
      }
      return count;
    },

    /** identity's user events: a status changed outside SCIM (an administrator) shows in the SCIM view. */
    async onUserEvent(tx: Tx, event: UserEvent): Promise<void> {
      if (event.type !== 'user.changed') return;
      const user = await identity.getUser(tx, event.tenantId, event.userId);
      await store.mirrorActive(tx, event.tenantId, event.userId, user.active, clock.now());
    },
  };
}

export type ScimUsersService = ReturnType<typeof createScimUsersService>;
