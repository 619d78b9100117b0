import type { Adapter, AdapterPayload, errors as OidcErrors } from 'oidc-provider';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Database } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import * as store from './artifacts.store.js';
import { isJwt, JWT_HANDLE_FIELD, jwtHandle } from './jwt-handle.js';

/**
 * oidc-provider's storage (its `Adapter` interface) over PostgreSQL or PGlite, shared by every instance.
 * - Ids are opaque bearer values (a session cookie, an authorization code, an opaque access or refresh token), so
 *   only their SHA-256 is stored and the payload's copy of the id (`jti`) is dropped; a database read yields no
 *   token (DESIGN §4).
 * - `consume` is atomic: of two requests spending the same authorization code or refresh token at once, one wins;
 *   the other is treated as a replay (RFC 6749 §4.1.2 for codes, RFC 9700 §4.14.2 refresh token rotation): every
 *   artefact of the grant is revoked and it answers `invalid_grant`.
 */
export interface ArtifactAdapterDeps {
  /** oidc-provider's error classes (the module is loaded lazily, provider-config.ts). */
  readonly errors: typeof OidcErrors;
  readonly db: Database;
  readonly clock: Clock;
  /** The tenant an artefact belongs to, where its payload names it (its client or its session). */
  readonly tenantOf: (payload: AdapterPayload) => string | null;
  /** Clients are Tessera's applications, read from their own table on every lookup (never stored here). */
  readonly clientMetadata: (clientId: string) => Promise<AdapterPayload | undefined>;
}

const ID_CONTEXT = 'tessera:oidc-artifact:';
/**
 * The ids of these travel only in cookies signed with a key derived from the master key (`_session`, `_interaction`):
 * a stored id is useless without the key, and the library must read it back (`Session.findByUid`), so it is kept.
 */
const SIGNED_COOKIE_MODELS = new Set(['Session', 'Interaction']);
const UID_CONTEXT = 'tessera:oidc-artifact-uid:';
/** The models whose ids may be JWT access tokens (RFC 9068). */
const TOKEN_MODELS = new Set(['AccessToken', 'ClientCredentials']);

export function artifactAdapter({ errors, db, clock, tenantOf, clientMetadata }: ArtifactAdapterDeps): new (model: string) => Adapter {
  const idHash = (model: string, id: string) => hashOpaqueToken(`${model}:${id}`, ID_CONTEXT);
  const uidHash = (model: string, uid: string) => hashOpaqueToken(`${model}:${uid}`, UID_CONTEXT);
  const revive = (row: store.ArtifactRow, id: string): AdapterPayload => ({
    ...(row.payload as AdapterPayload),
    jti: id,
    ...(row.consumed_at ? { consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) } : {}),
  });

  return class ArtifactAdapter implements Adapter {
    constructor(private readonly model: string) {}

    /**
     * The id an artefact is stored under. A JWT access token (RFC 9068) is stored under its handle (provider-config.ts):
     * looked up by the JWT itself (userinfo) or by the handle (introspection, revocation), never by its `jti`, which
     * every resource server sees.
     */
    private key(id: string): string {
      return TOKEN_MODELS.has(this.model) && isJwt(id) ? jwtHandle(id) : id;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const rest: Record<string, unknown> = { ...payload };
      const handle = rest[JWT_HANDLE_FIELD];
      delete rest[JWT_HANDLE_FIELD];
      if (typeof handle === 'string') id = handle;
      delete rest.jti;
      delete rest.consumed;
      const now = clock.now();
      await db.globalWork((tx) =>
        store.upsertArtifact(tx, {
          model: this.model,
          idHash: idHash(this.model, id),
          tenantId: tenantOf(payload),
          grantId: typeof payload.grantId === 'string' ? payload.grantId : null,
          uidHash: typeof payload.uid === 'string' ? uidHash(this.model, payload.uid) : null,
          payload: SIGNED_COOKIE_MODELS.has(this.model) ? { ...rest, jti: id } : rest,
          expiresAt: new Date(now.getTime() + expiresIn * 1000),
        }),
      );
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return clientMetadata(id);
      const row = await db.globalWork((tx) => store.findArtifact(tx, this.model, idHash(this.model, this.key(id)), clock.now()));
      return row ? revive(row, id) : undefined;
    }

    /** OP sessions by uid (their payload keeps their id, see SIGNED_COOKIE_MODELS). */
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const row = await db.globalWork((tx) => store.findArtifactByUid(tx, this.model, uidHash(this.model, uid), clock.now()));
      return row ? (row.payload) : undefined;
    }

    findByUserCode(): Promise<AdapterPayload | undefined> {
      // The device flow is not enabled (docs/openid-provider.md).
      return Promise.resolve(undefined);
    }

    async consume(id: string): Promise<void> {
      const result = await db.globalWork((tx) => store.consumeArtifact(tx, this.model, idHash(this.model, id), clock.now()));
      if (result.consumed) return;
      const grantId = result.grantId;
      if (grantId) {
        await db.globalWork(async (tx) => {
          await store.destroyByGrantId(tx, grantId);
          await store.destroyArtifact(tx, 'Grant', idHash('Grant', grantId));
        });
      }
      throw new errors.InvalidGrant(`${this.model} already used`);
    }

    async destroy(id: string): Promise<void> {
      await db.globalWork((tx) => store.destroyArtifact(tx, this.model, idHash(this.model, this.key(id))));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.globalWork((tx) => store.destroyByGrantId(tx, grantId, this.model));
    }
  };
}
