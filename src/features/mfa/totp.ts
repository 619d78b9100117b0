import { Secret, TOTP } from 'otpauth';

/**
 * TOTP as RFC 6238 fixes it for the common authenticator apps (Google Authenticator, Authy, Microsoft
 * Authenticator): HMAC-SHA-1, 30-second steps, 6 digits. A code is accepted for the current step and one
 * step either side (RFC 6238 §5.2, clock drift); the caller refuses steps already used (replay).
 */
export const TOTP_ALGORITHM = 'SHA1';
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_WINDOW = 1;

const CODE = /^\d{6}$/;

/** A new shared secret, base32: 160 bits, the HMAC-SHA-1 output length RFC 4226 §4 R6 recommends. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/…` URI authenticator apps read from the QR code (Key Uri Format). */
export function otpauthUri(secret: string, issuer: string, label: string): string {
  return totpOf(secret, issuer, label).toString();
}

/** Whether `code` has the shape of a TOTP code (six digits), as opposed to a recovery code. */
export function looksLikeTotpCode(code: string): boolean {
  return CODE.test(code);
}

/** The time step `code` belongs to, within ±1 step of `now`; null when it matches none. */
export function matchingStep(secret: string, code: string, now: Date): number | null {
  if (!CODE.test(code)) return null;
  const timestamp = now.getTime();
  const delta = totpOf(secret).validate({ token: code, timestamp, window: TOTP_WINDOW });
  if (delta === null) return null;
  return TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp }) + delta;
}

function totpOf(secret: string, issuer = '', label = 'OTPAuth'): TOTP {
  return new TOTP({
    issuer,
    label,
    secret: Secret.fromBase32(secret),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}
