import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { open, seal } from '../../crypto/envelope.js';
import { randomToken } from '../../crypto/random.js';

/**
 * Opaque refresh tokens: `rt1.<tenant id>.<256 random bits>`. The tenant id only routes the lookup to the
 * tenant's unit of work; the database holds the SHA-256 of the whole token.
 */
const FORMAT = /^rt1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export function newRefreshToken(tenantId: string): string {
  return `rt1.${tenantId}.${randomToken(32)}`;
}

export function parseRefreshToken(token: string): { tenantId: string } | undefined {
  const m = FORMAT.exec(token);
  return m ? { tenantId: m[1]! } : undefined;
}

export function hashRefreshToken(token: string): Buffer {
  return hashOpaqueToken(token);
}

function successorKey(token: string): Buffer {
  return hashOpaqueToken(token, 'tessera:refresh-successor:');
}

/** The successor, encrypted under a key only the holder of the rotated token can derive. */
export function sealSuccessor(rotated: string, successor: string): Buffer {
  return seal(successorKey(rotated), Buffer.from(successor), Buffer.from('tessera:refresh-successor'));
}

export function openSuccessor(rotated: string, box: Uint8Array): string | undefined {
  return open(successorKey(rotated), Buffer.from(box), Buffer.from('tessera:refresh-successor'))?.toString();
}
