import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { SIGNING_ALGORITHMS } from '../../config/config.schema.js';
import { createMasterKeys } from '../../crypto/master-key.js';
import { FixedClock } from '../../kernel/clock.js';
import { JwksSchema } from './keys.schema.js';
import { createKeysService } from './keys.service.js';

describe.each(engines())('signing keys [%s]', (engine) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.drop();
    t = undefined;
  });

  async function setup(alg: (typeof SIGNING_ALGORITHMS)[number] = 'RS256', masterKey = randomBytes(32)) {
    t = await createTestDatabase(engine);
    const clock = new FixedClock('2026-06-01T00:00:00Z');
    const keys = createKeysService({ db: t.db, clock, master: createMasterKeys(masterKey), signingAlg: alg, accessTokenTtlSeconds: 300 });
    return { keys, clock, db: t.db };
  }

  it.each(SIGNING_ALGORITHMS)('issues %s tokens that verify against the published JWKS', async (alg) => {
    const { keys } = await setup(alg);
    expect((await keys.ensureSigningKey()).created).toBe(true);
    expect((await keys.ensureSigningKey()).created).toBe(false);
    const key = await keys.currentSigningKey();
    expect(key.alg).toBe(alg);
    const token = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg, kid: key.kid }).setIssuedAt().setExpirationTime('5m').sign(key.privateKey);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await keys.jwks()));
    expect(payload.sub).toBe('u');
    expect(protectedHeader.kid).toBe(key.kid);
  });

  it('stores the private key encrypted, never in clear', async () => {
    const { keys, db } = await setup('EdDSA');
    await keys.ensureSigningKey();
    const row = await db.kysely.selectFrom('signing_keys').selectAll().executeTakeFirstOrThrow();
    const der = (await keys.currentSigningKey()).privateKey.export({ format: 'der', type: 'pkcs8' });
    expect(Buffer.from(row.private_key_enc).includes(der.subarray(-32))).toBe(false);
  });

  it('rotation keeps the old key published until its tokens have expired, then drops it', async () => {
    const { keys, clock } = await setup();
    const first = await keys.ensureSigningKey();
    const oldToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: first.kid })
      .setIssuedAt(clock.now())
      .setExpirationTime(new Date(clock.now().getTime() + 300_000))
      .sign((await keys.currentSigningKey()).privateKey);

    const second = await keys.rotateSigningKey();
    expect(second.kid).not.toBe(first.kid);
    expect((await keys.currentSigningKey()).kid).toBe(second.kid);
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([second.kid, first.kid]);
    await jwtVerify(oldToken, createLocalJWKSet(await keys.jwks()), { currentDate: clock.now() });

    // Past the token lifetime plus the publication margin the retired key is gone.
    clock.advance(300_000 + 60_000 + 1);
    await keys.rotateSigningKey('ES256');
    const kids = (await keys.jwks()).keys.map((k) => k.kid);
    expect(kids).toHaveLength(2);
    expect(kids).not.toContain(first.kid);
    expect((await keys.currentSigningKey()).alg).toBe('ES256');
  });

  it('re-wraps every key under a new master key; the old master key then no longer opens them', async () => {
    const oldMaster = randomBytes(32);
    const { keys, clock, db } = await setup('RS256', oldMaster);
    await keys.ensureSigningKey();
    const kid = (await keys.currentSigningKey()).kid;

    const newMaster = randomBytes(32);
    const rotating = createKeysService({ db, clock, master: createMasterKeys(newMaster, oldMaster), signingAlg: 'RS256', accessTokenTtlSeconds: 300 });
    const report = await rotating.rewrapAll();
    expect(report).toEqual({ dataKeys: 0, signingKeys: 1, alreadyCurrent: 0 });
    expect((await rotating.rewrapAll()).alreadyCurrent).toBe(1);

    const afterwards = createKeysService({ db, clock, master: createMasterKeys(newMaster), signingAlg: 'RS256', accessTokenTtlSeconds: 300 });
    expect((await afterwards.currentSigningKey()).kid).toBe(kid);
    const stale = createKeysService({ db, clock, master: createMasterKeys(oldMaster), signingAlg: 'RS256', accessTokenTtlSeconds: 300 });
    await expect(stale.currentSigningKey()).rejects.toMatchObject({ code: 'keyring.master_key_mismatch' });
  });
});

describe('JWKS document', () => {
  it('matches the published schema and carries an ETag that changes with rotation', async () => {
    const t = await createTestDatabase('pglite');
    try {
      const keys = createKeysService({ db: t.db, clock: new FixedClock(), master: createMasterKeys(randomBytes(32)), signingAlg: 'ES256', accessTokenTtlSeconds: 300 });
      await keys.ensureSigningKey();
      const first = await keys.jwksDocument();
      expect(JwksSchema.parse(JSON.parse(first.body))).toEqual(JSON.parse(first.body));
      expect(first.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
      await keys.rotateSigningKey('EdDSA');
      const second = await keys.jwksDocument();
      expect(JwksSchema.parse(JSON.parse(second.body)).keys.map((k) => k.alg)).toEqual(['EdDSA', 'ES256']);
      expect(second.etag).not.toBe(first.etag);
    } finally {
      await t.drop();
    }
  });
});
