import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { randomToken } from '../../crypto/random.js';
import type { Database, Tx } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import { actingUserId, type AuditActor, type AuditRecorder, type ConfiguringActor } from '../audit/index.js';
import type { ScimCaller } from './scim-caller.js';
import { ScimErrors } from './scim.errors.js';
import * as store from './scim.store.js';

/** A signed-in tenant administrator, or a setup link acting within what its creator holds (audit.types.ts). */
type UserActor = ConfiguringActor;

/** At most two live tokens per directory: the one in use and its replacement during a rotation. */
export const MAX_LIVE_TOKENS = 2;

/** `tsd1.<256 random bits>`: shown once; the database keeps only its SHA-256 (crypto/opaque-token.ts, DESIGN §4). */
const TOKEN = /^tsd1\.[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HASH_CONTEXT = 'tessera:scim-token:';
/** last_used_at is written at most once a minute per token, so a busy IdP does not write on every request. */
const TOUCH_EVERY_MS = 60_000;

export interface Directory {
  readonly id: string;
  readonly name: string;
  readonly ssoConnectionId: string | null;
  readonly baseUrl: string;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly updatedBy: string | null;
  readonly updatedAt: string;
}

export interface TokenInfo {
  readonly id: string;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

export interface DirectoriesDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly publicUrl: string;
  /** identity's rule: tenant-level settings change only by a tenant administrator. */
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
  /** sso: whether the connection is one of the tenant's. */
  readonly ssoConnectionExists: (tx: Tx, tenantId: string, connectionId: string) => Promise<boolean>;
  /** The users feature of scim: deactivates every user of the directory before it goes (de-provisioning). */
  readonly deprovisionDirectory: (tx: Tx, tenantId: string, directoryId: string, actor: AuditActor) => Promise<number>;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/**
 * SCIM directories of a tenant (the configuration side): each is a base URL `PUBLIC_URL/scim/v2/<id>` an IdP
 * provisions into, with bearer tokens shown once and stored hashed (at most two live, for rotation). Changes
 * need `scim.manage` and a tenant administrator, and are audited (`scim.directory.*`, `scim.token.*`).
 */
export function createDirectoriesService({ db, clock, audit, publicUrl, requireTenantAdmin, ssoConnectionExists, deprovisionDirectory }: DirectoriesDeps) {
  const baseUrlOf = (id: string) => `${publicUrl.replace(/\/$/, '')}/scim/v2/${id}`;
  const represent = (row: store.DirectoryRow): Directory => ({
    id: row.id,
    name: row.name,
    ssoConnectionId: row.sso_connection_id,
    baseUrl: baseUrlOf(row.id),
    createdBy: row.created_by,
    createdAt: iso(row.created_at)!,
    updatedBy: row.updated_by,
    updatedAt: iso(row.updated_at)!,
  });
  const notFound = () => new AppError(ScimErrors['scim.directory_not_found']);
  // A directory's tenant never changes, so it is remembered after the first look-up (one transaction less per
  // SCIM request). Only directories that exist are remembered; a deleted one fails the token look-up, which
  // runs on every request (its tokens are gone with it).
  const tenantOfDirectory = new Map<string, string>();
  const MAX_REMEMBERED = 10_000;
  async function directoryTenant(directoryId: string): Promise<string | undefined> {
    const known = tenantOfDirectory.get(directoryId);
    if (known) return known;
    const tenantId = await db.globalWork((tx) => store.directoryTenant(tx, directoryId));
    if (tenantId) {
      if (tenantOfDirectory.size >= MAX_REMEMBERED) tenantOfDirectory.clear();
      tenantOfDirectory.set(directoryId, tenantId);
    }
    return tenantId;
  }

  const refuse = () => new AppError(ScimErrors['scim.unauthorized']);
  const checkedCallers = new WeakSet<ScimCaller>();

  async function work<T>(caller: ScimCaller, fn: (tx: Tx) => Promise<T>): Promise<T> {
    let touch: string | undefined;
    try {
      return await db.tenantWork(caller.tenantId, async (tx) => {
        const row = await store.findLiveToken(tx, caller.tenantId, caller.directoryId, caller.tokenHash);
        if (!row) throw refuse();
        checkedCallers.add(caller);
        if (!row.last_used_at || clock.now().getTime() - new Date(row.last_used_at).getTime() >= TOUCH_EVERY_MS) touch = row.id;
        return fn(tx);
      });
    } finally {
      // last_used_at in a transaction of its own, at most once a minute: in the request's transaction the token
      // row's lock would queue the directory's concurrent requests behind each other until their commits.
      if (touch !== undefined) {
        const id = touch;
        await db.tenantWork(caller.tenantId, (tx) => store.touchToken(tx, caller.tenantId, id, clock.now()));
      }
    }
  }

  async function findOrThrow(tx: Tx, tenantId: string, id: string): Promise<store.DirectoryRow> {
    if (!UUID.test(id)) throw notFound();
    const row = await store.findDirectory(tx, tenantId, id);
    if (!row) throw notFound();
    return row;
  }

  async function checkInput(tx: Tx, tenantId: string, input: { name: string; ssoConnectionId: string | null }, exceptId?: string): Promise<void> {
    if (await store.directoryNameTaken(tx, tenantId, input.name, exceptId)) throw new AppError(ScimErrors['scim.name_taken']);
    if (input.ssoConnectionId !== null && !(await ssoConnectionExists(tx, tenantId, input.ssoConnectionId))) throw new AppError(ScimErrors['scim.sso_connection_not_found']);
  }

  /** A unit of work of a tenant administrator; a name collision raced past the check is `scim.name_taken`. */
  function adminWork<T>(tenantId: string, actor: UserActor, work: (tx: Tx) => Promise<T>): Promise<T> {
    return db
      .tenantWork(tenantId, async (tx) => {
        // A setup link acts as its creator (none for the operator's link).
        const userId = actingUserId(actor);
        if (userId !== null) await requireTenantAdmin(tx, tenantId, userId);
        return work(tx);
      })
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) throw new AppError(ScimErrors['scim.name_taken'], { cause: error });
        throw error;
      });
  }

  return {
    baseUrlOf,

    async list(tenantId: string): Promise<Directory[]> {
      const rows = await db.tenantWork(tenantId, (tx) => store.listDirectories(tx, tenantId));
      return rows.map(represent);
    },

    get(tenantId: string, id: string): Promise<Directory> {
      return db.tenantWork(tenantId, async (tx) => represent(await findOrThrow(tx, tenantId, id)));
    },

    /** `options.id`: an id reserved ahead (a setup link records its directory before creating it). */
    create(tenantId: string, actor: UserActor, input: { name: string; ssoConnectionId?: string | null | undefined }, options: { id?: string } = {}): Promise<Directory> {
      return adminWork(tenantId, actor, async (tx) => {
        const values = { name: input.name.trim(), ssoConnectionId: input.ssoConnectionId ?? null };
        await checkInput(tx, tenantId, values);
        const now = clock.now();
        const id = options.id ?? newId(now.getTime());
        await store.insertDirectory(tx, tenantId, { id, ...values, actorId: actingUserId(actor), now });
        await audit.record(tx, tenantId, { action: 'scim.directory.created', actor, target: { type: 'scim_directory', id }, outcome: 'success', details: values });
        return represent((await store.findDirectory(tx, tenantId, id))!);
      });
    },

    update(tenantId: string, actor: UserActor, id: string, input: { name?: string | undefined; ssoConnectionId?: string | null | undefined }): Promise<Directory> {
      return adminWork(tenantId, actor, async (tx) => {
        const row = await findOrThrow(tx, tenantId, id);
        const values = { name: input.name?.trim() ?? row.name, ssoConnectionId: input.ssoConnectionId === undefined ? row.sso_connection_id : input.ssoConnectionId };
        await checkInput(tx, tenantId, values, id);
        await store.updateDirectory(tx, tenantId, id, { ...values, actorId: actingUserId(actor), now: clock.now() });
        const changes: Record<string, { from: unknown; to: unknown }> = {};
        if (values.name !== row.name) changes.name = { from: row.name, to: values.name };
        if (values.ssoConnectionId !== row.sso_connection_id) changes.ssoConnectionId = { from: row.sso_connection_id, to: values.ssoConnectionId };
        if (Object.keys(changes).length > 0) {
          await audit.record(tx, tenantId, { action: 'scim.directory.updated', actor, target: { type: 'scim_directory', id }, outcome: 'success', details: { changes } });
        }
        return represent((await store.findDirectory(tx, tenantId, id))!);
      });
    },

    /** Deleting a directory de-provisions its users first: each is deactivated through identity (and audited). */
    remove(tenantId: string, actor: UserActor, id: string): Promise<void> {
      return adminWork(tenantId, actor, async (tx) => {
        const row = await findOrThrow(tx, tenantId, id);
        const deactivated = await deprovisionDirectory(tx, tenantId, id, actor);
        await store.deleteDirectory(tx, tenantId, id);
        await audit.record(tx, tenantId, { action: 'scim.directory.deleted', actor, target: { type: 'scim_directory', id }, outcome: 'success', details: { name: row.name, usersDeprovisioned: deactivated } });
      });
    },

    async listTokens(tenantId: string, directoryId: string): Promise<TokenInfo[]> {
      return db.tenantWork(tenantId, async (tx) => {
        await findOrThrow(tx, tenantId, directoryId);
        const rows = await store.listTokens(tx, tenantId, directoryId);
        return rows.map((r) => ({ id: r.id, createdBy: r.created_by, createdAt: iso(r.created_at)!, lastUsedAt: iso(r.last_used_at), revokedAt: iso(r.revoked_at) }));
      });
    },

    /** A new bearer token, returned once; refused (`scim.too_many_tokens`) while two are live. */
    createToken(tenantId: string, actor: UserActor, directoryId: string): Promise<TokenInfo & { token: string }> {
      return adminWork(tenantId, actor, async (tx) => {
        await findOrThrow(tx, tenantId, directoryId);
        // The directory row lock serialises token creation: two concurrent requests cannot both see one live token.
        await store.lockDirectory(tx, tenantId, directoryId);
        if ((await store.lockLiveTokens(tx, tenantId, directoryId)).length >= MAX_LIVE_TOKENS) throw new AppError(ScimErrors['scim.too_many_tokens']);
        const now = clock.now();
        const id = newId(now.getTime());
        const token = `tsd1.${randomToken(32)}`;
        await store.insertToken(tx, tenantId, { id, directoryId, hash: hashOpaqueToken(token, HASH_CONTEXT), actorId: actingUserId(actor), now });
        await audit.record(tx, tenantId, { action: 'scim.token.created', actor, target: { type: 'scim_token', id }, outcome: 'success', details: { directoryId } });
        return { id, createdBy: actingUserId(actor), createdAt: now.toISOString(), lastUsedAt: null, revokedAt: null, token };
      });
    },

    revokeToken(tenantId: string, actor: UserActor, directoryId: string, tokenId: string): Promise<void> {
      return adminWork(tenantId, actor, async (tx) => {
        await findOrThrow(tx, tenantId, directoryId);
        if (!UUID.test(tokenId)) throw new AppError(ScimErrors['scim.token_not_found']);
        const outcome = await store.revokeToken(tx, tenantId, directoryId, tokenId, clock.now());
        if (outcome === 'missing') throw new AppError(ScimErrors['scim.token_not_found']);
        if (outcome === 'revoked') {
          await audit.record(tx, tenantId, { action: 'scim.token.revoked', actor, target: { type: 'scim_token', id: tokenId }, outcome: 'success', details: { directoryId } });
        }
      });
    },

    /**
     * The SCIM guard (http/auth.ts ScimAuthenticator): the token's shape and the directory's tenant. The token
     * itself is checked by `work`, as the first statement of the request's unit of work.
     */
    async authenticate(directoryId: string, token: string): Promise<ScimCaller> {
      if (!UUID.test(directoryId) || !TOKEN.test(token)) throw refuse();
      const tenantId = await directoryTenant(directoryId);
      if (!tenantId) throw refuse();
      return { kind: 'scim_directory', directoryId, tenantId, tokenHash: hashOpaqueToken(token, HASH_CONTEXT) };
    },

    /**
     * The unit of work of a SCIM request: in the directory's tenant, and refused (`scim.unauthorized`, nothing read
     * or written) unless the bearer token is a live token of the directory the URL names — a token of another
     * directory, of the same tenant or not, is refused like an unknown or revoked one. Folding the check into the
     * request's transaction saves the three round trips of a transaction of its own (BENCHMARKS.md, SCIM).
     */
    work,

    /** The token check alone, for a SCIM request that reads nothing (the discovery endpoints). */
    verify(caller: ScimCaller): Promise<void> {
      return work(caller, () => Promise.resolve());
    },

    /** Whether the request's token was checked (scim.routes.ts refuses to answer a request whose token was not). */
    checked: (caller: ScimCaller) => checkedCallers.has(caller),
  };
}

export type DirectoriesService = ReturnType<typeof createDirectoriesService>;
