import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { AppError } from '../kernel/app-error.js';
import { DbErrors } from '../db/db.errors.js';
import type { MasterKey } from './master-key.js';

/**
 * The encrypted backup file (docs/runbook.md "Backup and restore"):
 *
 *   magic "TESSERA-BACKUP" ‖ 0x00 ‖ format version (1 byte) ‖ header length (u32 BE) ‖ header (JSON)
 *   ‖ AES-256-GCM ciphertext of the snapshot ‖ GCM tag (16 bytes)
 *
 * The header (format, what was backed up, when, by which Tessera, the master key's public id, the HKDF salt and
 * the IV) is not secret but is authenticated: the whole prefix up to the ciphertext is the GCM associated data, so
 * a changed header fails like a changed byte of the body. The key is derived from the master key with HKDF-SHA256
 * (RFC 5869) and a random salt per file, so backups never share a key with the keyring's data-key wrapping.
 */
const MAGIC = Buffer.from('TESSERA-BACKUP\0', 'latin1');
export const BACKUP_FORMAT = 1;
const TAG = 16;
const CHUNK = 1 << 20;
const HKDF_INFO = 'tessera backup v1';

export interface BackupHeader {
  readonly format: number;
  readonly engine: 'pglite';
  readonly createdAt: string;
  readonly tesseraVersion: string;
  readonly masterKeyId: string;
  readonly compression: 'gzip';
  readonly plaintextBytes: number;
  readonly salt: string;
  readonly iv: string;
}

function backupKey(master: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, salt, HKDF_INFO, 32));
}

/** Encrypts a snapshot under the master key; `progress(done, total)` follows the bytes. */
export function encryptBackup(
  master: MasterKey,
  snapshot: Buffer,
  info: { tesseraVersion: string; createdAt: Date },
  progress: (done: number, total: number) => void = () => {},
): Buffer {
  const salt = randomBytes(32);
  const iv = randomBytes(12);
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    engine: 'pglite',
    createdAt: info.createdAt.toISOString(),
    tesseraVersion: info.tesseraVersion,
    masterKeyId: master.id,
    compression: 'gzip',
    plaintextBytes: snapshot.length,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(headerBytes.length);
  const prefix = Buffer.concat([MAGIC, Buffer.from([BACKUP_FORMAT]), length, headerBytes]);
  const cipher = createCipheriv('aes-256-gcm', backupKey(master.key, salt), iv);
  cipher.setAAD(prefix);
  const parts: Buffer[] = [prefix];
  for (let offset = 0; offset < snapshot.length; offset += CHUNK) {
    parts.push(cipher.update(snapshot.subarray(offset, offset + CHUNK)));
    progress(Math.min(offset + CHUNK, snapshot.length), snapshot.length);
  }
  parts.push(cipher.final(), cipher.getAuthTag());
  return Buffer.concat(parts);
}

function invalid(message: string): AppError {
  return new AppError(DbErrors['backup.file_invalid'], { message });
}

/** Reads the header of a backup file without decrypting it (for messages and the key check). */
export function readBackupHeader(file: Buffer): { header: BackupHeader; prefix: Buffer } {
  if (file.length < MAGIC.length + 5 || !file.subarray(0, MAGIC.length).equals(MAGIC)) throw invalid('This file is not a Tessera backup.');
  const format = file[MAGIC.length]!;
  if (format !== BACKUP_FORMAT) throw invalid(`This backup has format ${format}; this Tessera reads format ${BACKUP_FORMAT}. Restore it with the Tessera version that wrote it.`);
  const length = file.readUInt32BE(MAGIC.length + 1);
  const start = MAGIC.length + 5;
  if (length > 64 * 1024 || start + length + TAG > file.length) throw invalid('The backup is truncated or its header is damaged.');
  let header: BackupHeader;
  try {
    header = JSON.parse(file.subarray(start, start + length).toString('utf8')) as BackupHeader;
  } catch {
    throw invalid('The backup header is damaged.');
  }
  if (header.format !== BACKUP_FORMAT || header.engine !== 'pglite' || typeof header.salt !== 'string' || typeof header.iv !== 'string' || typeof header.masterKeyId !== 'string') {
    throw invalid('The backup header is damaged.');
  }
  return { header, prefix: file.subarray(0, start + length) };
}

/**
 * Authenticates and decrypts a backup file: nothing is returned unless every byte (header included) is the one
 * that was written under this master key. `keys` are the current master key and, during a rotation, the previous one.
 */
export function decryptBackup(keys: readonly MasterKey[], file: Buffer, progress: (done: number, total: number) => void = () => {}): { header: BackupHeader; snapshot: Buffer } {
  const { header, prefix } = readBackupHeader(file);
  const master = keys.find((k) => k.id === header.masterKeyId);
  if (!master) {
    throw new AppError(DbErrors['backup.master_key_mismatch'], {
      message: `The backup was encrypted with master key ${header.masterKeyId}; the configured key is ${keys.map((k) => k.id).join(' / ')}. Set TESSERA_MASTER_KEY to the key in use when the backup was taken.`,
    });
  }
  const body = file.subarray(prefix.length, file.length - TAG);
  const decipher = createDecipheriv('aes-256-gcm', backupKey(master.key, Buffer.from(header.salt, 'base64')), Buffer.from(header.iv, 'base64'));
  decipher.setAAD(prefix);
  decipher.setAuthTag(file.subarray(file.length - TAG));
  const parts: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += CHUNK) {
    parts.push(decipher.update(body.subarray(offset, offset + CHUNK)));
    progress(Math.min(offset + CHUNK, body.length), body.length);
  }
  try {
    parts.push(decipher.final());
  } catch {
    throw new AppError(DbErrors['backup.authentication_failed']);
  }
  const snapshot = Buffer.concat(parts);
  if (snapshot.length !== header.plaintextBytes) throw new AppError(DbErrors['backup.authentication_failed']);
  return { header, snapshot };
}
