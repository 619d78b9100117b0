import { createHash, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { SigningAlgorithm } from '../../config/config.schema.js';
import type { MasterKeys } from '../../crypto/master-key.js';
import { dataKeyAad } from '../../crypto/keyring.js';
import { generateSigningKey, privateKeyFromDer, publicKeyFromJwk, signingKeyAad } from '../../crypto/signing-keys.js';
import type { Database } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import type { GlobalAuditRecorder } from '../audit/index.js';
import * as store from './keys.store.js';

/**
 * How long an instance trusts its copy of the key set (measured on the injected clock); rotation on another
 * instance is seen within this. Each key also carries the end of its publication window, which verifiers
 * re-check on every use, so a retired key stops verifying when its window ends, not up to this much later.
 */
const KEY_CACHE_MS = 30_000;
/** A retired key stays published for the token lifetime plus this margin (clock skew, the cache above). */
const PUBLISH_MARGIN_MS = 60_000;

export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
}

export interface VerificationKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly publicKey: KeyObject;
  /** End of the key's publication window (epoch ms): a retired key verifies nothing from then on. Absent while current. */
  readonly notAfter?: number;
}

interface KeySet {
  readonly loadedAt: number;
  readonly jwks: { keys: JWK[] };
  /** The JWKS serialized once per load, with a strong ETag over it: served as is to every caller. */
  readonly document: { readonly body: string; readonly etag: string };
  readonly current: SigningKey | undefined;
  readonly verification: ReadonlyMap<string, VerificationKey>;
}

export interface RewrapReport {
  readonly dataKeys: number;
  readonly signingKeys: number;
  readonly alreadyCurrent: number;
}

export interface KeysDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly master: MasterKeys;
  readonly signingAlg: SigningAlgorithm;
  readonly accessTokenTtlSeconds: number;
  /** Key operations are recorded in every tenant's audit chain (signing keys are global). The app always passes it. */
  readonly audit?: GlobalAuditRecorder;
}

const KEYS_ACTOR = { type: 'system', id: 'keys' } as const;

export function createKeysService({ db, clock, master, signingAlg, accessTokenTtlSeconds, audit }: KeysDeps) {
  let cache: KeySet | undefined;
  let loading: Promise<KeySet> | undefined;

  async function load(): Promise<KeySet> {
    const now = clock.now();
    const rows = await db.globalWork((tx) => store.publishedSigningKeys(tx, now));
    const verification = new Map<string, VerificationKey>();
    let current: SigningKey | undefined;
    for (const row of rows) {
      const alg = row.alg as SigningAlgorithm;
      verification.set(row.kid, { kid: row.kid, alg, publicKey: publicKeyFromJwk(row.publicJwk), ...(row.publishUntil ? { notAfter: row.publishUntil.getTime() } : {}) });
      if (!row.retiredAt) {
        const der = master.unwrap(row.privateKeyEnc, row.masterKeyId, signingKeyAad(row.kid));
        current = { kid: row.kid, alg, privateKey: privateKeyFromDer(der) };
      }
    }
    const jwks = { keys: rows.map((r) => r.publicJwk) };
    const body = JSON.stringify(jwks);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    return { loadedAt: now.getTime(), jwks, document: { body, etag }, current, verification };
  }

  async function keySet(): Promise<KeySet> {
    if (cache && clock.now().getTime() - cache.loadedAt < KEY_CACHE_MS) return cache;
    loading ??= load().finally(() => (loading = undefined));
    cache = await loading;
    return cache;
  }

  async function insertNewKey(alg: SigningAlgorithm, rotation = false): Promise<string> {
    const key = await generateSigningKey(alg);
    const { box, masterKeyId } = master.wrap(key.privateKeyDer, signingKeyAad(key.kid));
    const now = clock.now();
    await db.ownerWork(async (tx) => {
      await store.retireCurrentSigningKey(tx, now, new Date(now.getTime() + accessTokenTtlSeconds * 1000 + PUBLISH_MARGIN_MS));
      await store.deleteExpiredSigningKeys(tx, now);
      await store.insertSigningKey(tx, { ...key, privateKeyEnc: box, masterKeyId, createdAt: now });
      if (rotation) {
        await audit?.recordInEveryTenant(tx, {
          action: 'keys.signing_key.rotated',
          actor: KEYS_ACTOR,
          target: { type: 'signing_key', id: key.kid },
          outcome: 'success',
          details: { alg },
        });
      }
    });
    cache = undefined;
    return key.kid;
  }

  return {
    /**
     * At start: makes sure a current signing key exists and that the master key opens it (a wrong master
     * key stops the server here, with a message saying what to do, rather than on the first login).
     */
    async ensureSigningKey(): Promise<{ kid: string; created: boolean }> {
      const existing = await keySet();
      if (existing.current) return { kid: existing.current.kid, created: false };
      const kid = await insertNewKey(signingAlg).catch(async (error: unknown) => {
        // Another instance created one at the same moment (one current key is a unique index).
        cache = undefined;
        const again = await keySet();
        if (again.current) return again.current.kid;
        throw error;
      });
      return { kid, created: true };
    },

    /** The public JSON Web Key Set: the current key and retired keys whose tokens may still be valid. */
    async jwks(): Promise<{ keys: JWK[] }> {
      return (await keySet()).jwks;
    },

    /** The JWKS as its serialized document and ETag (what the HTTP route sends). */
    async jwksDocument(): Promise<{ readonly body: string; readonly etag: string }> {
      return (await keySet()).document;
    },

    /** The key new tokens are signed with. */
    async currentSigningKey(): Promise<SigningKey> {
      const set = await keySet();
      if (!set.current) throw new Error('no current signing key; the server runs ensureSigningKey() at start');
      return set.current;
    },

    /** Our own public keys by kid, for verifying the tokens we issued (never a key from the token itself). */
    async verificationKeys(): Promise<ReadonlyMap<string, VerificationKey>> {
      return (await keySet()).verification;
    },

    /**
     * One published key by kid, read now (not from the cache): a token signed with a key another instance
     * started signing with after this one loaded its key set.
     */
    async publishedKey(kid: string): Promise<VerificationKey | undefined> {
      const row = await db.globalWork((tx) => store.publishedSigningKey(tx, kid, clock.now()));
      return row ? { kid: row.kid, alg: row.alg as SigningAlgorithm, publicKey: publicKeyFromJwk(row.public_jwk), ...(row.publish_until ? { notAfter: row.publish_until.getTime() } : {}) } : undefined;
    },

    /** Adds a new signing key (of `alg`, default the configured one) and retires the current one. */
    async rotateSigningKey(alg: SigningAlgorithm = signingAlg): Promise<{ kid: string; alg: SigningAlgorithm }> {
      return { kid: await insertNewKey(alg, true), alg };
    },

    /**
     * Re-wraps every tenant data key and signing key that the previous master key wrapped under the
     * current one (operator work, one transaction, so a failure leaves everything as it was).
     */
    async rewrapAll(onProgress?: (done: number, total: number) => void): Promise<RewrapReport> {
      return db.ownerWork(async (tx) => {
        const dataKeys = await store.listAllDataKeys(tx);
        const signingKeys = await store.listAllSigningKeys(tx);
        const total = dataKeys.length + signingKeys.length;
        let done = 0;
        let rewrapped = 0;
        let signing = 0;
        for (const k of dataKeys) {
          if (k.master_key_id !== master.current.id) {
            const aad = dataKeyAad(k.tenant_id, k.version);
            const plain = master.unwrap(Buffer.from(k.wrapped_key), k.master_key_id, aad);
            const { box, masterKeyId } = master.wrap(plain, aad);
            await store.replaceWrappedDataKey(tx, k.tenant_id, k.version, box, masterKeyId);
            rewrapped++;
          }
          onProgress?.(++done, total);
        }
        for (const k of signingKeys) {
          if (k.master_key_id !== master.current.id) {
            const aad = signingKeyAad(k.kid);
            const plain = master.unwrap(Buffer.from(k.private_key_enc), k.master_key_id, aad);
            const { box, masterKeyId } = master.wrap(plain, aad);
            await store.replaceSigningKeyEnc(tx, k.kid, box, masterKeyId);
            signing++;
          }
          onProgress?.(++done, total);
        }
        await audit?.recordInEveryTenant(tx, {
          action: 'keys.master_key.rewrapped',
          actor: KEYS_ACTOR,
          target: { type: 'master_key', id: master.current.id },
          outcome: 'success',
          details: { dataKeys: rewrapped, signingKeys: signing, alreadyCurrent: total - rewrapped - signing },
        });
        cache = undefined;
        return { dataKeys: rewrapped, signingKeys: signing, alreadyCurrent: total - rewrapped - signing };
      });
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;
