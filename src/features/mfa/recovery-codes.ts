import { randomInt } from 'node:crypto';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';

/**
 * Recovery codes: 10 per enrollment, each 16 characters of Crockford base32 (80 random bits), shown once
 * as `xxxx-xxxx-xxxx-xxxx` and stored only as SHA-256 of the normalized code. 80 bits make a stored hash
 * useless to brute-force, so a fast hash suffices and a code is found by its hash in one indexed read.
 */
export const RECOVERY_CODE_COUNT = 10;

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LENGTH = 16;
const NORMALIZED = /^[0-9a-hjkmnp-tv-z]{16}$/;

export function newRecoveryCode(): string {
  let raw = '';
  for (let i = 0; i < LENGTH; i++) raw += ALPHABET[randomInt(ALPHABET.length)];
  return raw.match(/.{4}/g)!.join('-');
}

/** Case, spaces and dashes do not matter; Crockford's look-alikes (o→0, i/l→1) are read as intended. */
export function normalizeRecoveryCode(input: string): string | null {
  const code = input.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  return NORMALIZED.test(code) ? code : null;
}

export function hashRecoveryCode(normalized: string): Buffer {
  return hashOpaqueToken(normalized, 'tessera:recovery-code:');
}
