import { createHash } from 'node:crypto';

/**
 * The shared spent-id table (sessions' `used_tokens`) keys ids by UUID: a one-time thing of SSO (an assertion, a
 * warning) named by `parts` becomes an RFC 9562 §5.8 UUIDv8 of their SHA-256 (no two share one in practice).
 */
export function spentId(...parts: readonly string[]): string {
  const h = createHash('sha256').update(parts.join('\0')).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
