import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with associated data. The output is `iv (12) ‖ tag (16) ‖ ciphertext`. The associated data
 * binds a ciphertext to where it belongs (tenant, field, key version): moved anywhere else it fails to open.
 */
const IV = 12;
const TAG = 16;

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  if (key.length !== 32) throw new Error('AES-256-GCM needs a 32-byte key');
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Returns the plaintext, or undefined when the box was altered or the key or associated data differ. */
export function open(key: Buffer, box: Buffer, aad: Buffer): Buffer | undefined {
  if (key.length !== 32 || box.length < IV + TAG) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, IV));
    decipher.setAAD(aad);
    decipher.setAuthTag(box.subarray(IV, IV + TAG));
    return Buffer.concat([decipher.update(box.subarray(IV + TAG)), decipher.final()]);
  } catch {
    return undefined;
  }
}
