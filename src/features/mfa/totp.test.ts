import { describe, expect, it } from 'vitest';
import { hashRecoveryCode, newRecoveryCode, normalizeRecoveryCode } from './recovery-codes.js';
import { matchingStep, newTotpSecret, otpauthUri } from './totp.js';

// RFC 6238 Appendix B, SHA-1 rows: the seed is the ASCII string "12345678901234567890"; our codes are the
// last 6 of the 8 digits the RFC lists (HOTP truncation, RFC 4226 §5.3, modulo 10^6).
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: [seconds: number, eightDigits: string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP (RFC 6238)', () => {
  it.each(RFC_VECTORS)('matches the RFC 6238 test vector at T=%i', (seconds, eight) => {
    const at = new Date(seconds * 1000);
    expect(matchingStep(RFC_SECRET, eight.slice(2), at)).toBe(Math.floor(seconds / 30));
  });

  it('accepts one step of drift either way and no more', () => {
    const [seconds, eight] = RFC_VECTORS[3]!;
    const code = eight.slice(2);
    const step = Math.floor(seconds / 30);
    expect(matchingStep(RFC_SECRET, code, new Date((seconds + 30) * 1000))).toBe(step);
    expect(matchingStep(RFC_SECRET, code, new Date((seconds - 30) * 1000))).toBe(step);
    expect(matchingStep(RFC_SECRET, code, new Date((seconds + 90) * 1000))).toBeNull();
    expect(matchingStep(RFC_SECRET, code, new Date((seconds - 90) * 1000))).toBeNull();
  });

  it('refuses anything but six digits', () => {
    expect(matchingStep(RFC_SECRET, '94287082', new Date(59_000))).toBeNull();
    expect(matchingStep(RFC_SECRET, '28708', new Date(59_000))).toBeNull();
    expect(matchingStep(RFC_SECRET, ' 287082', new Date(59_000))).toBeNull();
  });

  it('makes 160-bit secrets and a Key Uri Format URI', () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(newTotpSecret()).not.toBe(secret);
    const uri = new URL(otpauthUri(secret, 'Acme & Co', 'ann@acme.example'));
    expect(decodeURIComponent(uri.pathname)).toBe('/Acme & Co:ann@acme.example');
    expect(Object.fromEntries(uri.searchParams)).toEqual({ issuer: 'Acme & Co', secret, algorithm: 'SHA1', digits: '6', period: '30' });
  });
});

describe('recovery codes', () => {
  it('are 16 Crockford base32 characters in groups of four, read forgivingly', () => {
    const code = newRecoveryCode();
    expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
    const plain = code.replace(/-/g, '');
    expect(normalizeRecoveryCode(code)).toBe(plain);
    expect(normalizeRecoveryCode(` ${code.toUpperCase()} `)).toBe(plain);
    expect(normalizeRecoveryCode('0000-1111-OOOO-IIII')).toBe('0000111100001111');
    expect(normalizeRecoveryCode('too-short')).toBeNull();
    expect(normalizeRecoveryCode('123456')).toBeNull();
  });

  it('hash to 32 bytes, differently for different codes', () => {
    expect(hashRecoveryCode('0000111100001111')).toHaveLength(32);
    expect(hashRecoveryCode('0000111100001111').equals(hashRecoveryCode('0000111100001112'))).toBe(false);
  });
});
