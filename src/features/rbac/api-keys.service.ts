import { createHash } from 'node:crypto';
import { randomToken } from '../../crypto/random.js';
import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { AccessService } from './access.service.js';
import type { CatalogService } from './catalog.service.js';
import type { GrantRule } from './grant-rule.js';
import { RbacErrors } from './rbac.errors.js';
import { granterOf, type RbacActor, type RbacDeps, type Scope } from './rbac.ports.js';
import './rbac.tables.js';

/**
 * API keys of an account (DESIGN §4): `tak1.<tenant id>.<256 random bits>`, shown once; the database keeps
 * only the SHA-256. The tenant id only routes the lookup to the tenant's unit of work.
 */
const FORMAT = /^tak1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('tak1.');
}

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
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

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function createApiKeysService({ db, clock, audit }: RbacDeps, catalog: CatalogService, access: AccessService, grants: GrantRule) {
  return {
    async createKey(tx: Tx, scope: Scope, actor: RbacActor & { type: 'user' }, input: { name: string; permissions: string[] }): Promise<ApiKeyInfo & { key: string }> {
      const permissions = await catalog.checkKeys(tx, scope.accountId, input.permissions);
      const now = clock.now();
      // The grant rule: a key acts for the whole account, so its creator must hold its scopes account-wide
      // (now: on each use they are narrowed again to what the creator then holds, see `authenticate`).
      await grants.assertWithinOwnAccess(tx, granterOf(scope.tenantId, actor)!, [{ accountId: scope.accountId, keys: permissions, organizationId: null, until: now }], {
        change: 'api_key.create',
        details: { name: input.name, permissions },
      });
      const id = newId(now.getTime());
      const key = `tak1.${scope.tenantId}.${randomToken(32)}`;
      await tx
        .insertInto('api_keys')
        .values({ tenant_id: scope.tenantId, id, account_id: scope.accountId, name: input.name, key_hash: hashKey(key), permissions, created_by: actor.id, created_at: now })
        .execute();
      await audit.record(tx, scope.tenantId, { action: 'api_key.created', actor, target: { type: 'api_key', id }, outcome: 'success', details: { accountId: scope.accountId, name: input.name, permissions } });
      return { id, name: input.name, accountId: scope.accountId, permissions, createdAt: now.toISOString(), lastUsedAt: null, revokedAt: null, key };
    },

    async listKeys(tx: Tx, scope: Scope): Promise<ApiKeyInfo[]> {
      const rows = await tx
        .selectFrom('api_keys')
        .select(['id', 'name', 'account_id', 'permissions', 'created_at', 'last_used_at', 'revoked_at'])
        .where('tenant_id', '=', scope.tenantId)
        .where('account_id', '=', scope.accountId)
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({ id: r.id, name: r.name, accountId: r.account_id, permissions: r.permissions, createdAt: iso(r.created_at)!, lastUsedAt: iso(r.last_used_at), revokedAt: iso(r.revoked_at) }));
    },

    async revokeKey(tx: Tx, scope: Scope, actor: RbacActor, id: string): Promise<void> {
      const row = await tx.selectFrom('api_keys').select(['id', 'name', 'revoked_at']).where('tenant_id', '=', scope.tenantId).where('account_id', '=', scope.accountId).where('id', '=', id).executeTakeFirst();
      if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such API key.' });
      if (row.revoked_at) return;
      await tx.updateTable('api_keys').set({ revoked_at: clock.now() }).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
      await audit.record(tx, scope.tenantId, { action: 'api_key.revoked', actor, target: { type: 'api_key', id }, outcome: 'success', details: { accountId: scope.accountId, name: row.name } });
    },

    /**
     * The key's tenant, account and effective scope, or `rbac.api_key_invalid`. A key never exceeds its
     * creator's access (the grant rule): its effective scope is its scopes intersected with what its creator
     * holds account-wide at this request, so demoting or deactivating the creator narrows or empties the key
     * on the next request. The lookup reads the account's authorization epoch with the key, so the creator's
     * access comes from the resolver cache keyed by that epoch (DESIGN §3) and costs no query when unchanged.
     */
    async authenticate(key: string): Promise<{ id: string; tenantId: string; accountId: string; permissions: ReadonlySet<string> }> {
      const m = FORMAT.exec(key);
      if (!m) throw new AppError(RbacErrors['rbac.api_key_invalid']);
      const tenantId = m[1]!;
      const row = await db.tenantWork(tenantId, (tx) =>
        tx
          .selectFrom('api_keys as k')
          .innerJoin('accounts as a', 'a.id', 'k.account_id')
          .leftJoin('users as u', (j) => j.onRef('u.tenant_id', '=', 'k.tenant_id').onRef('u.id', '=', 'k.created_by'))
          .select(['k.id', 'k.account_id', 'k.permissions', 'k.created_by', 'u.active as creator_active', 'a.authz_epoch'])
          .where('k.tenant_id', '=', tenantId)
          .where('k.key_hash', '=', hashKey(key))
          .where('k.revoked_at', 'is', null)
          .executeTakeFirst(),
      );
      if (!row) throw new AppError(RbacErrors['rbac.api_key_invalid']);
      const permissions = new Set<string>();
      if (row.created_by && row.creator_active) {
        const held = { tenantId, userId: row.created_by, accountId: row.account_id, authzEpoch: Number(row.authz_epoch) };
        for (const p of row.permissions) if (await access.has(held, p)) permissions.add(p);
      }
      return { id: row.id, tenantId, accountId: row.account_id, permissions };
    },
  };
}

export type ApiKeysService = ReturnType<typeof createApiKeysService>;
