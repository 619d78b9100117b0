import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../config/config.schema.js';
import { issueToken, TOKEN_TYPES, type TokenKind, verifyToken } from './tokens.js';

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

  // Our compact JWS (RFC 7515 §7.1, signed with node:crypto, its header encoded once per key and kind) is what any
  // JOSE library verifies: jose checks it with the public key alone, its header names exactly the key's algorithm,
  // the key's id and the kind's `typ` (RFC 8725 §3.11), and each kind and each key keeps its own header.
  for (const alg of SIGNING_ALGORITHMS) {
    it(`issues ${alg} tokens that jose verifies, each kind and key with its own header`, async () => {
      const key = keyFor(alg);
      const second = { ...keyFor(alg), kid: `k2-${alg}` };
      for (const signer of [key, second]) {
        for (const kind of Object.keys(TOKEN_TYPES) as TokenKind[]) {
          const { token } = await issueToken(kind, signer, { issuer: 'https://id.example', audience: 'api' }, claims, NOW, 300);
          expect(decodeProtectedHeader(token)).toEqual({ alg, kid: signer.kid, typ: TOKEN_TYPES[kind] });
          const { payload, protectedHeader } = await jwtVerify(token, signer.publicKey, {
            algorithms: [alg],
            typ: TOKEN_TYPES[kind],
            issuer: 'https://id.example',
            audience: 'api',
            currentDate: new Date((NOW + 10) * 1000),
          });
          expect(protectedHeader.kid).toBe(signer.kid);
          expect(payload).toMatchObject({ ...claims, iat: NOW, exp: NOW + 300 });
        }
      }
      // Signed by one key, verified with the other: refused.
      const { token } = await issueToken('access', key, { issuer: 'https://id.example' }, claims, NOW, 300);
      await expect(jwtVerify(token, second.publicKey, { currentDate: new Date(NOW * 1000) })).rejects.toThrow();
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

// RFC 7519 §4.1.5/§4.1.6 allow "some small leeway" for clock skew between instances: 30 s here, no more and
// no less. A token issued (`iat`) or valid from (`nbf`) 30 s ahead of this instance's clock is accepted;
// 31 s ahead it is refused.
describe('clock skew allowance for iat and nbf (30 s)', () => {
  const SKEW = 30;
  const key = keyFor('EdDSA');
  const keys = new Map([[key.kid, key]]);
  const settings = { issuer: 'https://id.example' };
  const sign = (times: { iat: number; nbf?: number }) =>
    new SignJWT({ ...claims, exp: NOW + 600, jti: 'j-1', ...times }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' }).setIssuer(settings.issuer).setSubject(claims.sub).sign(key.privateKey);

  it('accepts iat up to now + 30 s and refuses now + 31 s', async () => {
    expect(verifyToken(await sign({ iat: NOW + SKEW }), 'access', keys, settings, NOW)).toMatchObject({ ok: true, claims: { iat: NOW + SKEW } });
    expect(verifyToken(await sign({ iat: NOW + SKEW + 1 }), 'access', keys, settings, NOW)).toEqual({ ok: false, reason: 'iat in the future' });
  });

  it('accepts nbf up to now + 30 s and refuses now + 31 s', async () => {
    expect(verifyToken(await sign({ iat: NOW, nbf: NOW + SKEW }), 'access', keys, settings, NOW)).toMatchObject({ ok: true, claims: { nbf: NOW + SKEW } });
    expect(verifyToken(await sign({ iat: NOW, nbf: NOW + SKEW + 1 }), 'access', keys, settings, NOW)).toEqual({ ok: false, reason: 'not yet valid' });
  });
});
