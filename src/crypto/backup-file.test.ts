import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptBackup, encryptBackup, readBackupHeader } from './backup-file.js';
import { createMasterKeys } from './master-key.js';

const key = () => createMasterKeys(randomBytes(32)).current;
const info = { tesseraVersion: '0.1.0', createdAt: new Date('2026-12-07T00:00:00Z') };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('encrypted backup file', () => {
  const master = key();
  const snapshot = randomBytes(3 * 1024 * 1024 + 17);
  const sealed = encryptBackup(master, snapshot, info);

  it('round-trips under the same master key, in chunks with progress, and never holds the plaintext in the clear', () => {
    const seen: number[] = [];
    const opened = decryptBackup([master], sealed, (done) => seen.push(done));
    expect(opened.snapshot.equals(snapshot)).toBe(true);
    expect(opened.header).toMatchObject({ format: 1, engine: 'pglite', masterKeyId: master.id, tesseraVersion: '0.1.0', plaintextBytes: snapshot.length });
    expect(seen.at(-1)).toBe(snapshot.length);
    expect(seen.length).toBeGreaterThan(1);
    expect(sealed.includes(snapshot.subarray(1000, 1064))).toBe(false);
  });

  it('uses a fresh salt and IV per file: the same snapshot twice gives unrelated ciphertexts', () => {
    const again = encryptBackup(master, snapshot, info);
    expect(readBackupHeader(again).header.salt).not.toBe(readBackupHeader(sealed).header.salt);
    expect(again.subarray(-1000).equals(sealed.subarray(-1000))).toBe(false);
  });

  it('refuses a changed byte anywhere: body, tag, or authenticated header', () => {
    const { prefix } = readBackupHeader(sealed);
    for (const at of [prefix.length + 10, Math.floor(sealed.length / 2), sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[at] = tampered[at]! ^ 0x01;
      expect(codeOf(() => decryptBackup([master], tampered)), `byte ${at}`).toBe('backup.authentication_failed');
    }
    // A header edit that keeps it valid JSON (the date) is caught by the tag, which covers the header.
    const text = sealed.toString('latin1');
    const edited = Buffer.from(text.replace('2026-12-07T00:00:00.000Z', '2026-12-08T00:00:00.000Z'), 'latin1');
    expect(edited.equals(sealed)).toBe(false);
    expect(codeOf(() => decryptBackup([master], edited))).toBe('backup.authentication_failed');
  });

  it('names a wrong master key, and opens with the previous key during a rotation', () => {
    const other = key();
    expect(codeOf(() => decryptBackup([other], sealed))).toBe('backup.master_key_mismatch');
    expect(decryptBackup([other, master], sealed).snapshot.length).toBe(snapshot.length);
  });

  it('refuses what is not a backup, a truncated one, and an unknown format version', () => {
    expect(codeOf(() => decryptBackup([master], Buffer.from('PGDMP not ours')))).toBe('backup.file_invalid');
    expect(codeOf(() => decryptBackup([master], sealed.subarray(0, 40)))).toBe('backup.file_invalid');
    const future = Buffer.from(sealed);
    future[15] = 2;
    expect(codeOf(() => decryptBackup([master], future))).toBe('backup.file_invalid');
    expect(codeOf(() => decryptBackup([master], sealed.subarray(0, sealed.length - 5)))).toBe('backup.authentication_failed');
  });
});
