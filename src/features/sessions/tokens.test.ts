import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../config/config.schema.js';
import { issueToken, verifyToken } from './tokens.js';

function keyFor(alg: SigningAlgorithm) {
  const pair =
    alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { kid: `k-${alg}`, alg, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

const claims = { sub: '0190a0b0-0000-7000-8000-000000000001', tid: '0190a0b0-0000-7000-8000-000000000002', acc: '0190a0b0-0000-7000-8000-000000000003', sid: '0190a0b0-0000-7000-8000-000000000004' };
const NOW = 1_800_000_000;

// The synchronous verifier accepts exactly what jose issues, for every algorithm the keyring can hold.
describe('access token verification (node:crypto, algorithm pinned by kid)', () => {
  for (const alg of SIGNING_ALGORITHMS) {
    it(`verifies ${alg} tokens issued with jose, and refuses them under another key's kid`, async () => {
      const key = keyFor(alg);
      const { token } = await issueToken('access', key, { issuer: 'https://id.example' }, claims, NOW, 300);
      const keys = new Map([[key.kid, key]]);
      expect(verifyToken(token, 'access', keys, { issuer: 'https://id.example' }, NOW + 10)).toMatchObject({ ok: true, claims: { ...claims, iss: 'https://id.example', exp: NOW + 300 } });
      expect(verifyToken(token, 'identity', keys, { issuer: 'https://id.example' }, NOW)).toEqual({ ok: false, reason: 'typ' });
      const other = keyFor(alg === 'RS256' ? 'ES256' : 'RS256');
      expect(verifyToken(token, 'access', new Map([[key.kid, { alg: other.alg, publicKey: other.publicKey }]]), { issuer: 'https://id.example' }, NOW).ok).toBe(false);
    });
  }

  it('checks the audience when one is configured (RFC 7519 §4.1.3)', async () => {
    const key = keyFor('EdDSA');
    const keys = new Map([[key.kid, key]]);
    const withAud = (await issueToken('access', key, { issuer: 'i', audience: 'api' }, claims, NOW, 300)).token;
    const without = (await issueToken('access', key, { issuer: 'i' }, claims, NOW, 300)).token;
    expect(verifyToken(withAud, 'access', keys, { issuer: 'i', audience: 'api' }, NOW).ok).toBe(true);
    expect(verifyToken(withAud, 'access', keys, { issuer: 'i', audience: 'other' }, NOW)).toEqual({ ok: false, reason: 'aud' });
    expect(verifyToken(without, 'access', keys, { issuer: 'i', audience: 'api' }, NOW)).toEqual({ ok: false, reason: 'aud' });
  });
});
