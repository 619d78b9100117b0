import type { Tx } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError, isAppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { GroupsErrors } from '../identity/index.js';
import { applyPatch } from './patch.js';
import { type Doc, invalidValue, normalizeDocument, project } from './resource.js';
import type { ScimCaller } from './scim-caller.js';
import { ScimErrors } from './scim.errors.js';
import { CORE_GROUP, GROUP_RESOURCE, LIST_RESPONSE } from './scim-schema.js';
import * as store from './scim.store.js';
import { checkIfMatch, etagOf, listParameters, type ListQuery, type RequestInfo, type Versioned } from './users.service.js';

/** What SCIM groups need of identity's groups (app.ts wires identity's `directoryGroups`): a SCIM group is an identity group. */
export interface IdentityGroupsPort {
  create(tx: Tx, tenantId: string, name: string): Promise<string>;
  rename(tx: Tx, tenantId: string, groupId: string, name: string): Promise<void>;
  remove(tx: Tx, tenantId: string, groupId: string): Promise<{ members: number; assignments: number }>;
  memberIds(tx: Tx, tenantId: string, groupIds: readonly string[]): Promise<Map<string, string[]>>;
  addMembers(tx: Tx, tenantId: string, groupId: string, userIds: readonly string[]): Promise<string[]>;
  removeMembers(tx: Tx, tenantId: string, groupId: string, userIds: readonly string[]): Promise<string[]>;
  removeUserFromGroups(tx: Tx, tenantId: string, userId: string, groupIds: readonly string[]): Promise<number>;
}

export interface ScimGroupsDeps {
  /** The request's unit of work, refused unless the caller's token is a live token of its directory (DirectoriesService.work). */
  readonly work: <T>(caller: ScimCaller, fn: (tx: Tx) => Promise<T>) => Promise<T>;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly groups: IdentityGroupsPort;
  readonly baseUrlOf: (directoryId: string) => string;
  /** The directory's group → role mappings re-applied (a group appeared, was renamed or went): role-mappings.service.ts. */
  readonly mappingsChanged: (tx: Tx, tenantId: string, directoryId: string) => Promise<void>;
}

/** How many member ids an audit event names (the counts are always complete). */
export const AUDIT_MEMBER_IDS = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const uniqueness = (message: string) => new AppError(ScimErrors['scim.uniqueness'], { message });

/** The attributes kept in columns or identity's tables rather than the jsonb document. */
function splitDoc(doc: Doc): store.ScimGroupValues & { members: string[] } {
  const { displayName, externalId, members, ...resource } = doc;
  const name = (displayName as string).trim();
  // identity's groups.name is 1–200 characters (0005_access_control.sql).
  if (name.length === 0 || name.length > 200) throw invalidValue('displayName must be 1–200 characters.');
  const ids: string[] = [];
  for (const m of Array.isArray(members) ? (members as Doc[]) : []) {
    if (m.type !== undefined && m.type !== 'User') throw invalidValue('members: only users can be members (nested groups are not supported).');
    if (typeof m.value !== 'string' || !UUID.test(m.value)) throw invalidValue(`members: ${JSON.stringify(m.value ?? null)} is not the id of a user of this directory.`);
    ids.push(m.value);
  }
  return { displayName: name, externalId: (externalId as string | undefined) ?? null, resource, members: [...new Set(ids)] };
}

function docOf(row: store.ScimGroupRow, members: readonly string[] | null): Doc {
  return {
    displayName: row.display_name,
    ...(row.external_id !== null ? { externalId: row.external_id } : {}),
    ...row.resource,
    ...(members && members.length > 0 ? { members: members.map((value) => ({ value })) } : {}),
  };
}

/** Whether a projection leaves `members` out, so that it is not read at all (large groups: RFC 7644 §3.4.2.5). */
export function membersWanted(query: Pick<ListQuery, 'attributes' | 'excludedAttributes'>): boolean {
  const names = (s: string | undefined) => (s ?? '').split(',').map((n) => n.trim().toLowerCase().replace(`${CORE_GROUP.toLowerCase()}:`, ''));
  if (query.attributes !== undefined && query.attributes.trim() !== '') return names(query.attributes).some((n) => n === 'members' || n.startsWith('members.'));
  return !names(query.excludedAttributes).includes('members');
}

/**
 * /Groups of a SCIM directory (RFC 7644 §3, RFC 7643 §4.2). A SCIM group is an identity group, created, renamed,
 * deleted and filled through identity's port; members are users this directory provisions. Membership changes
 * are set-based (one statement per batch) and summarised in one audit event per request.
 */
export function createScimGroupsService({ work, clock, audit, groups, baseUrlOf, mappingsChanged }: ScimGroupsDeps) {
  const actorOf = (caller: ScimCaller, info: RequestInfo): AuditActor => ({ type: 'scim_directory', id: caller.directoryId, ip: info.ip, userAgent: info.userAgent });

  function represent(caller: ScimCaller, row: store.ScimGroupRow, members: readonly string[] | null): Doc {
    const base = baseUrlOf(caller.directoryId);
    const { displayName, externalId, members: _m, ...rest } = docOf(row, null);
    return {
      schemas: [CORE_GROUP],
      id: row.group_id,
      ...(externalId !== undefined ? { externalId } : {}),
      displayName,
      ...rest,
      ...(members !== null ? { members: members.map((value) => ({ value, $ref: `${base}/Users/${value}`, type: 'User' })) } : {}),
      meta: {
        resourceType: 'Group',
        created: new Date(row.created_at).toISOString(),
        lastModified: new Date(row.updated_at).toISOString(),
        location: `${base}/Groups/${row.group_id}`,
        version: etagOf(row.version),
      },
    };
  }

  async function findOrThrow(tx: Tx, caller: ScimCaller, groupId: string, forUpdate = false): Promise<store.ScimGroupRow> {
    // The row lock serialises writers of one group: two concurrent PATCHes each see the other's members.
    const row = UUID.test(groupId) ? await store.findScimGroup(tx, caller.tenantId, caller.directoryId, groupId, forUpdate) : undefined;
    if (!row) throw new AppError(ScimErrors['scim.resource_not_found'], { message: `No group ${groupId} in this directory.` });
    return row;
  }

  async function membersOf(tx: Tx, caller: ScimCaller, groupId: string): Promise<string[]> {
    return (await groups.memberIds(tx, caller.tenantId, [groupId])).get(groupId) ?? [];
  }

  function asScimError(error: unknown): unknown {
    if (isUniqueViolation(error)) return uniqueness('The displayName was taken concurrently.');
    if (isAppError(error) && error.code === GroupsErrors['identity.group_name_taken']) return uniqueness('Another group of the tenant has this displayName.');
    return error;
  }

  /** Members must be users this directory provisions (RFC 7643 §4.2 `members.value` is a resource id). */
  async function checkMembers(tx: Tx, caller: ScimCaller, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const known = new Set(await store.directoryUsersAmong(tx, caller.tenantId, caller.directoryId, ids));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length > 0) throw invalidValue(`members: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} not users of this directory.`);
  }

  /** Writes a replaced document (PUT, PATCH): name, SCIM row, membership diff; one audit event. */
  async function writeDoc(tx: Tx, caller: ScimCaller, actor: AuditActor, row: store.ScimGroupRow, current: readonly string[], next: Doc, method: 'put' | 'patch'): Promise<store.ScimGroupRow> {
    const { tenantId, directoryId } = caller;
    const values = splitDoc(next);
    const before = new Set(current);
    const after = new Set(values.members);
    const toAdd = values.members.filter((id) => !before.has(id));
    const toRemove = current.filter((id) => !after.has(id));
    const beforeDoc = docOf(row, null);
    const { members: _m, ...nextDoc } = next;
    const attributes = Object.keys({ ...beforeDoc, ...nextDoc }).filter((k) => JSON.stringify(beforeDoc[k]) !== JSON.stringify(nextDoc[k]));
    if (attributes.length === 0 && toAdd.length === 0 && toRemove.length === 0) return row;
    await checkMembers(tx, caller, toAdd);
    const renamed = values.displayName !== row.display_name;
    if (renamed) {
      if (values.displayName.toLowerCase() !== row.display_name.toLowerCase() && (await store.displayNameTaken(tx, tenantId, directoryId, values.displayName, row.group_id))) {
        throw uniqueness(`displayName ${values.displayName} is taken in this directory.`);
      }
      await groups.rename(tx, tenantId, row.group_id, values.displayName);
    }
    const added = await groups.addMembers(tx, tenantId, row.group_id, toAdd);
    const removed = await groups.removeMembers(tx, tenantId, row.group_id, toRemove);
    await store.updateScimGroup(tx, tenantId, directoryId, row.group_id, values, clock.now());
    if (renamed) await mappingsChanged(tx, tenantId, directoryId);
    await audit.record(tx, tenantId, {
      action: 'scim.group.updated',
      actor,
      target: { type: 'group', id: row.group_id },
      outcome: 'success',
      details: { directoryId, method, displayName: values.displayName, attributes, ...membershipSummary(added, removed) },
    });
    return (await store.findScimGroup(tx, tenantId, directoryId, row.group_id))!;
  }

  return {
    /** POST /Groups (RFC 7644 §3.3). */
    create(caller: ScimCaller, info: RequestInfo, body: unknown): Promise<Versioned> {
      const { tenantId, directoryId } = caller;
      return work(caller, async (tx) => {
          const values = splitDoc(normalizeDocument(GROUP_RESOURCE, body));
          if (await store.displayNameTaken(tx, tenantId, directoryId, values.displayName)) throw uniqueness(`displayName ${values.displayName} is taken in this directory.`);
          await checkMembers(tx, caller, values.members);
          const groupId = await groups.create(tx, tenantId, values.displayName);
          await store.insertScimGroup(tx, tenantId, directoryId, groupId, values, clock.now());
          const added = await groups.addMembers(tx, tenantId, groupId, values.members);
          await mappingsChanged(tx, tenantId, directoryId);
          await audit.record(tx, tenantId, {
            action: 'scim.group.created',
            actor: actorOf(caller, info),
            target: { type: 'group', id: groupId },
            outcome: 'success',
            details: { directoryId, displayName: values.displayName, ...membershipSummary(added, []) },
          });
          const row = (await store.findScimGroup(tx, tenantId, directoryId, groupId))!;
          return { resource: represent(caller, row, await membersOf(tx, caller, groupId)), etag: etagOf(row.version) };
        })
        .catch((error: unknown) => {
          throw asScimError(error);
        });
    },

    /** GET /Groups/{id} (RFC 7644 §3.4.1); members are read only when the projection keeps them. */
    get(caller: ScimCaller, groupId: string, query: Pick<ListQuery, 'attributes' | 'excludedAttributes'>): Promise<Versioned> {
      return work(caller, async (tx) => {
        const row = await findOrThrow(tx, caller, groupId);
        const members = membersWanted(query) ? await membersOf(tx, caller, row.group_id) : null;
        return { resource: project(GROUP_RESOURCE, represent(caller, row, members), query.attributes, query.excludedAttributes), etag: etagOf(row.version) };
      });
    },

    /** GET /Groups (RFC 7644 §3.4.2); `excludedAttributes=members` reads no membership at all. */
    list(caller: ScimCaller, query: ListQuery): Promise<Doc> {
      const params = listParameters(GROUP_RESOURCE, query);
      return work(caller, async (tx) => {
        const { rows, total } = await store.queryScimGroups(tx, caller.tenantId, caller.directoryId, params.query);
        const members = membersWanted(query) && rows.length > 0 ? await groups.memberIds(tx, caller.tenantId, rows.map((r) => r.group_id)) : null;
        return {
          schemas: [LIST_RESPONSE],
          totalResults: total,
          startIndex: params.startIndex,
          itemsPerPage: rows.length,
          Resources: rows.map((r) => project(GROUP_RESOURCE, represent(caller, r, members ? (members.get(r.group_id) ?? []) : null), query.attributes, query.excludedAttributes)),
        };
      });
    },

    /** PUT /Groups/{id} (RFC 7644 §3.5.1): the whole membership is replaced (Okta's way of pushing a group). */
    replace(caller: ScimCaller, info: RequestInfo, groupId: string, body: unknown): Promise<Versioned> {
      return work(caller, async (tx) => {
          const row = await findOrThrow(tx, caller, groupId, true);
          checkIfMatch(info.ifMatch, row.version);
          const current = await membersOf(tx, caller, row.group_id);
          const next = normalizeDocument(GROUP_RESOURCE, body);
          const written = await writeDoc(tx, caller, actorOf(caller, info), row, current, next, 'put');
          return { resource: represent(caller, written, await membersOf(tx, caller, row.group_id)), etag: etagOf(written.version) };
        })
        .catch((error: unknown) => {
          throw asScimError(error);
        });
    },

    /**
     * PATCH /Groups/{id} (RFC 7644 §3.5.2): member batches, `members[value eq "…"]` removal, Entra ID's `Remove`
     * of `members` with a `value` array, `Replace` of displayName. Answers the group (RFC 7644 §3.5.2 allows 204;
     * Okta and Entra ID accept both).
     */
    patch(caller: ScimCaller, info: RequestInfo, groupId: string, body: unknown): Promise<Versioned> {
      return work(caller, async (tx) => {
          const row = await findOrThrow(tx, caller, groupId, true);
          checkIfMatch(info.ifMatch, row.version);
          const current = await membersOf(tx, caller, row.group_id);
          const next = normalizeDocument(GROUP_RESOURCE, applyPatch(GROUP_RESOURCE, docOf(row, current), body));
          const written = await writeDoc(tx, caller, actorOf(caller, info), row, current, next, 'patch');
          return { resource: represent(caller, written, await membersOf(tx, caller, row.group_id)), etag: etagOf(written.version) };
        })
        .catch((error: unknown) => {
          throw asScimError(error);
        });
    },

    /** DELETE /Groups/{id} (RFC 7644 §3.6): the identity group, its memberships and role assignments go. */
    remove(caller: ScimCaller, info: RequestInfo, groupId: string): Promise<void> {
      return work(caller, async (tx) => {
        const row = await findOrThrow(tx, caller, groupId, true);
        checkIfMatch(info.ifMatch, row.version);
        const removed = await groups.remove(tx, caller.tenantId, row.group_id);
        await mappingsChanged(tx, caller.tenantId, caller.directoryId);
        await audit.record(tx, caller.tenantId, {
          action: 'scim.group.deleted',
          actor: actorOf(caller, info),
          target: { type: 'group', id: row.group_id },
          outcome: 'success',
          details: { directoryId: caller.directoryId, displayName: row.display_name, membersRemoved: removed.members, assignmentsRemoved: removed.assignments },
        });
      });
    },
  };
}

/** Membership changes of one request, for its one audit event: counts, and at most AUDIT_MEMBER_IDS ids each. */
export function membershipSummary(added: readonly string[], removed: readonly string[]) {
  return {
    membersAdded: added.length,
    membersRemoved: removed.length,
    addedIds: added.slice(0, AUDIT_MEMBER_IDS),
    removedIds: removed.slice(0, AUDIT_MEMBER_IDS),
    ...(added.length > AUDIT_MEMBER_IDS || removed.length > AUDIT_MEMBER_IDS ? { idsTruncated: true } : {}),
  };
}

export type ScimGroupsService = ReturnType<typeof createScimGroupsService>;
