import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { randomToken } from '../../crypto/random.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { findUserRef } from '../identity/index.js';
import type { CheckContext, GrantRule } from '../rbac/index.js';
import { authzEpochOf } from '../tenants/index.js';
import { ApiKeysErrors } from './api-keys.errors.js';
import * as store from './api-keys.store.js';

/**
 * API keys of an account (DESIGN §4): `tak1.<tenant id>.<256 random bits>`, shown once; the database keeps
 * only its hash (crypto/opaque-token.ts). The tenant id only routes the lookup to the tenant's unit of work.
 */
const FORMAT = /^tak1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('tak1.');
}

export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  readonly accountId: string;
  readonly permissions: string[];
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** An application calling with a key: what the HTTP guard hands to `session-or-api-key` routes. */
export interface ApiKeyCaller {
  readonly kind: 'api_key';
  readonly id: string;
  readonly tenantId: string;
  readonly accountId: string;
  readonly permissions: ReadonlySet<string>;
}

/** The caller's tenant and the account of its session. */
export interface Scope {
  readonly tenantId: string;
  readonly accountId: string;
}

type UserActor = AuditActor & { readonly type: 'user'; readonly id: string };

export interface ApiKeysDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  /** The access-control feature: the catalog's keys, the grant rule and the cached permission check. */
  readonly rbac: {
    checkKeys(tx: Tx, accountId: string, keys: readonly string[]): Promise<string[]>;
    readonly grants: Pick<GrantRule, 'assertWithinOwnAccess' | 'refusalsRecorded'>;
    has(ctx: CheckContext, permission: string): Promise<boolean>;
  };
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function createApiKeysService({ db, clock, audit, rbac }: ApiKeysDeps) {
  return {
    isApiKey: looksLikeApiKey,
    /** Creates a key (shown once). The grant rule may refuse it; the refusal is audited. */
    createKey(scope: Scope, actor: UserActor, input: { name: string; permissions: string[] }): Promise<ApiKeyInfo & { key: string }> {
      return rbac.grants.refusalsRecorded(scope.tenantId, actor, async (tx) => {
        const permissions = await rbac.checkKeys(tx, scope.accountId, input.permissions);
        const now = clock.now();
        // The grant rule: a key acts for the whole account, so its creator must hold its scopes account-wide
        // (now: on each use they are narrowed again to what the creator then holds, see `authenticate`).
        await rbac.grants.assertWithinOwnAccess(tx, { tenantId: scope.tenantId, userId: actor.id }, [{ accountId: scope.accountId, keys: permissions, organizationId: null, until: now }], {
          change: 'api_key.create',
          details: { name: input.name, permissions },
        });
        const id = newId(now.getTime());
        const key = `tak1.${scope.tenantId}.${randomToken(32)}`;
        await store.insertKey(tx, scope.tenantId, { id, accountId: scope.accountId, name: input.name, hash: hashOpaqueToken(key), permissions, createdBy: actor.id, createdAt: now });
        await audit.record(tx, scope.tenantId, { action: 'api_key.created', actor, target: { type: 'api_key', id }, outcome: 'success', details: { accountId: scope.accountId, name: input.name, permissions } });
        return { id, name: input.name, accountId: scope.accountId, permissions, createdAt: now.toISOString(), lastUsedAt: null, revokedAt: null, key };
      });
    },

    async listKeys(scope: Scope): Promise<ApiKeyInfo[]> {
      const rows = await db.tenantWork(scope.tenantId, (tx) => store.listKeys(tx, scope.tenantId, scope.accountId));
      return rows.map((r) => ({ id: r.id, name: r.name, accountId: r.account_id, permissions: r.permissions, createdAt: iso(r.created_at)!, lastUsedAt: iso(r.last_used_at), revokedAt: iso(r.revoked_at) }));
    },

    revokeKey(scope: Scope, actor: UserActor, id: string): Promise<void> {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const row = await store.findKey(tx, scope.tenantId, scope.accountId, id);
        if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such API key.' });
        if (row.revoked_at) return;
        await store.revokeKey(tx, scope.tenantId, id, clock.now());
        await audit.record(tx, scope.tenantId, { action: 'api_key.revoked', actor, target: { type: 'api_key', id }, outcome: 'success', details: { accountId: scope.accountId, name: row.name } });
      });
    },

    /**
     * The key's tenant, account and effective scope, or `api_keys.invalid`. A key never exceeds its creator's
     * access (the grant rule): its effective scope is its scopes intersected with what its creator holds
     * account-wide at this request, so demoting or deactivating the creator narrows or empties the key on the
     * next request. The lookup reads the account's authorization epoch with the key, so the creator's access
     * comes from the resolver cache keyed by that epoch (DESIGN §3) and costs no query when unchanged.
     * With `isApiKey`, this is the HTTP guard's ApiKeyAuthenticator (http/auth.ts).
     */
    async authenticate(key: string): Promise<ApiKeyCaller> {
      const m = FORMAT.exec(key);
      if (!m) throw new AppError(ApiKeysErrors['api_keys.invalid']);
      const tenantId = m[1]!;
      const found = await db.tenantWork(tenantId, async (tx) => {
        const row = await store.findLiveKeyByHash(tx, tenantId, hashOpaqueToken(key));
        if (!row) return undefined;
        const epoch = await authzEpochOf(tx, row.account_id);
        const creator = row.created_by ? await findUserRef(tx, tenantId, row.created_by) : undefined;
        return epoch === undefined ? undefined : { ...row, epoch, creatorActive: creator?.active === true };
      });
      if (!found) throw new AppError(ApiKeysErrors['api_keys.invalid']);
      const permissions = new Set<string>();
      if (found.created_by && found.creatorActive) {
        const held = { tenantId, userId: found.created_by, accountId: found.account_id, authzEpoch: found.epoch };
        for (const p of found.permissions) if (await rbac.has(held, p)) permissions.add(p);
      }
      return { kind: 'api_key', id: found.id, tenantId, accountId: found.account_id, permissions };
    },
  };
}

export type ApiKeysService = ReturnType<typeof createApiKeysService>;
