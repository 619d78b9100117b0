import { createHash } from 'node:crypto';

/**
 * The stored form of an opaque token we issue (API keys, refresh tokens, recovery codes): SHA-256 of the token.
 * DESIGN §4: tokens issued to machines are stored only as hashes and shown once. A fast hash is enough because
 * the token carries at least 80 random bits (OWASP ASVS 4.0 §2.9.1 / §3.5.2: no password stretching is needed
 * for high-entropy secrets); a lookup by hash never reveals the token. `context`, when given, separates the
 * hashes of two token kinds (`tessera:recovery-code:`), so one kind's hash is never valid as another's.
 */
export function hashOpaqueToken(token: string, context = ''): Buffer {
  return createHash('sha256').update(`${context}${token}`).digest();
}
