import { randomBytes } from 'node:crypto';
import { AppError } from '../kernel/app-error.js';
import { CryptoErrors } from './crypto.errors.js';
import { open, seal } from './envelope.js';
import type { MasterKeys } from './master-key.js';

/** Where wrapped data keys live; implemented by the keys feature's store. `T` is the unit of work's transaction. */
export interface DataKeyStore<T> {
  currentDataKey(tx: T, tenantId: string): Promise<WrappedDataKey | undefined>;
  dataKey(tx: T, tenantId: string, version: number): Promise<WrappedDataKey | undefined>;
  insertDataKey(tx: T, tenantId: string, key: WrappedDataKey): Promise<void>;
}

export interface WrappedDataKey {
  readonly version: number;
  readonly wrappedKey: Buffer;
  readonly masterKeyId: string;
}

const FORMAT = 1;

export function dataKeyAad(tenantId: string, version: number): string {
  return `tessera:data-key:${tenantId}:${version}`;
}

/** The associated data of a field ciphertext: the header, the tenant and the field it belongs to. */
function fieldAad(header: Buffer, tenantId: string, field: string): Buffer {
  return Buffer.concat([header, Buffer.from(`:${tenantId}:${field}`)]);
}

/**
 * Envelope encryption of tenant secrets (DESIGN §4): master key → per-tenant data key → AES-256-GCM with
 * the tenant id and field name as associated data. A field ciphertext is
 * `format (1) ‖ data key version (4) ‖ iv ‖ tag ‖ ciphertext`.
 */
export class Keyring<T> {
  readonly #master: MasterKeys;
  readonly #store: DataKeyStore<T>;
  // Unwrapped data keys by `${tenantId}:${version}`. Data keys never change once written.
  readonly #cache = new Map<string, Buffer>();

  constructor(master: MasterKeys, store: DataKeyStore<T>) {
    this.#master = master;
    this.#store = store;
  }

  /** Creates the tenant's first data key; called in the unit of work that creates the tenant. */
  async createDataKey(tx: T, tenantId: string): Promise<number> {
    const current = await this.#store.currentDataKey(tx, tenantId);
    const version = (current?.version ?? 0) + 1;
    const key = randomBytes(32);
    const { box, masterKeyId } = this.#master.wrap(key, dataKeyAad(tenantId, version));
    await this.#store.insertDataKey(tx, tenantId, { version, wrappedKey: box, masterKeyId });
    this.#cache.set(`${tenantId}:${version}`, key);
    return version;
  }

  async encrypt(tx: T, tenantId: string, field: string, plaintext: string | Buffer): Promise<Buffer> {
    const wrapped = await this.#store.currentDataKey(tx, tenantId);
    if (!wrapped) throw new Error(`tenant ${tenantId} has no data key`);
    const key = this.#unwrap(tenantId, wrapped);
    const header = Buffer.alloc(5);
    header.writeUInt8(FORMAT, 0);
    header.writeUInt32BE(wrapped.version, 1);
    const body = seal(key, Buffer.isBuffer(plaintext) ? plaintext : Buffer.from(plaintext, 'utf8'), fieldAad(header, tenantId, field));
    return Buffer.concat([header, body]);
  }

  async decrypt(tx: T, tenantId: string, field: string, ciphertext: Uint8Array): Promise<Buffer> {
    const box = Buffer.from(ciphertext);
    if (box.length < 5 || box.readUInt8(0) !== FORMAT) {
      throw new AppError(CryptoErrors['keyring.decrypt_failed'], { detail: { tenantId, field, reason: 'format' } });
    }
    const header = box.subarray(0, 5);
    const version = header.readUInt32BE(1);
    const wrapped = await this.#store.dataKey(tx, tenantId, version);
    if (!wrapped) throw new AppError(CryptoErrors['keyring.decrypt_failed'], { detail: { tenantId, field, reason: 'no such key version' } });
    const plain = open(this.#unwrap(tenantId, wrapped), box.subarray(5), fieldAad(header, tenantId, field));
    if (!plain) throw new AppError(CryptoErrors['keyring.decrypt_failed'], { detail: { tenantId, field } });
    return plain;
  }

  async decryptString(tx: T, tenantId: string, field: string, ciphertext: Uint8Array): Promise<string> {
    return (await this.decrypt(tx, tenantId, field, ciphertext)).toString('utf8');
  }

  #unwrap(tenantId: string, wrapped: WrappedDataKey): Buffer {
    const cacheKey = `${tenantId}:${wrapped.version}`;
    let key = this.#cache.get(cacheKey);
    if (!key) {
      key = this.#master.unwrap(wrapped.wrappedKey, wrapped.masterKeyId, dataKeyAad(tenantId, wrapped.version));
      this.#cache.set(cacheKey, key);
    }
    return key;
  }
}
