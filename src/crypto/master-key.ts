import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.schema.js';
import { secureDataDir } from '../db/data-dir.js';
import { AppError } from '../kernel/app-error.js';
import { CryptoErrors } from './crypto.errors.js';
import { open, seal } from './envelope.js';

export interface MasterKey {
  /** A public fingerprint stored beside what the key wraps, so the right key is chosen and a wrong one named. */
  readonly id: string;
  readonly key: Buffer;
}

export interface MasterKeys {
  readonly current: MasterKey;
  readonly previous?: MasterKey;
  /** Wraps bytes under the current master key; returns the box and the id of the key used. */
  wrap(plaintext: Buffer, aad: string): { box: Buffer; masterKeyId: string };
  /** Opens a box wrapped by the current or the previous master key. */
  unwrap(box: Buffer, masterKeyId: string, aad: string): Buffer;
}

export function masterKeyId(key: Buffer): string {
  return createHash('sha256').update('tessera master key id\0').update(key).digest('hex').slice(0, 16);
}

export function createMasterKeys(current: Buffer, previous?: Buffer): MasterKeys {
  const cur: MasterKey = { id: masterKeyId(current), key: current };
  const prev: MasterKey | undefined = previous ? { id: masterKeyId(previous), key: previous } : undefined;
  return {
    current: cur,
    previous: prev,
    wrap(plaintext, aad) {
      return { box: seal(cur.key, plaintext, Buffer.from(aad)), masterKeyId: cur.id };
    },
    unwrap(box, id, aad) {
      const key = id === cur.id ? cur : id === prev?.id ? prev : undefined;
      if (!key) throw new AppError(CryptoErrors['keyring.master_key_mismatch'], { detail: { masterKeyId: id } });
      const plain = open(key.key, box, Buffer.from(aad));
      if (!plain) throw new AppError(CryptoErrors['keyring.decrypt_failed'], { detail: { aad } });
      return plain;
    },
  };
}

export interface ResolvedMasterKey {
  readonly keys: MasterKeys;
  /** Set when the key was generated into the data directory just now. */
  readonly generatedAt?: string;
  readonly source: 'environment' | 'data-dir';
}

/**
 * TESSERA_MASTER_KEY when set. Otherwise, in embedded mode only, the key kept in `<data dir>/master.key`,
 * generated there (mode 0600) on first start. With PostgreSQL a missing key is a startup error: instances
 * must share one key, and one generated on a single machine's disk would be lost with it.
 */
export function resolveMasterKey(config: Config): ResolvedMasterKey {
  if (config.masterKey) {
    return { keys: createMasterKeys(config.masterKey, config.previousMasterKey), source: 'environment' };
  }
  if (config.database.kind === 'postgres') throw new AppError(CryptoErrors['keyring.master_key_missing']);
  secureDataDir(config.dataDir);
  const file = path.join(config.dataDir, 'master.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key; restore it from your backup`);
    return { keys: createMasterKeys(key), source: 'data-dir' };
  }
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { keys: createMasterKeys(key), source: 'data-dir', generatedAt: file };
}
