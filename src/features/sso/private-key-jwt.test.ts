import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { newSigningJwk, type TestOp } from '../../../test/support/oidc-provider.js';
import { createUserAgent } from '../../../test/support/user-agent.js';
import { markDomainVerified, startSsoTestApp } from '../../../test/support/sso.js';
import { newId } from '../../kernel/ids.js';

type Jwk = Record<string, string>;
interface Connection {
  id: string;
  enabled: boolean;
  hasClientSecret: boolean;
  clientJwks: { keys: Jwk[] } | null;
  clientJwksUri: string | null;
  clientPublicKeyPem: string | null;
  oidc: { tokenEndpointAuthMethod: string; clientKeyAlg: string };
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
const CLIENT_ID = 'tessera-pkjwt';

// private_key_jwt (OpenID Connect Core §9, RFC 7523): Tessera's generated key authenticates at a real OP's token endpoint.
describe.each(engines())('SSO private_key_jwt client authentication [%s]', (engine) => {
  let t: TestApp;
  let op: TestOp;
  let admin: LoggedIn;
  let other: LoggedIn;
  let roleId: string;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    ({ t, op } = await startSsoTestApp(engine));
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    other = await loginAsAdmin(t, { tenantName: 'Globex' });
    roleId = (await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'SSO users', permissions: ['idp.view'] })).body.id;
    await markDomainVerified(t, admin.tenantId, 'acme.test');
    op.addAccount('u-alice', { email: 'alice@acme.test', email_verified: true, name: 'Alice' });
  });
  afterAll(async () => {
    await op?.close();
    await t?.close();
  });

  async function create(oidc: Record<string, unknown> = {}, clientId = CLIENT_ID): Promise<Connection> {
    const res = await api<Connection>(admin, 'POST', '/api/v1/sso/connections', {
      type: 'oidc', name: `PKJWT ${newId().slice(-8)}`, enabled: true, domains: ['acme.test'], defaultRoleId: roleId,
      oidc: { issuer: op.issuer, clientId, tokenEndpointAuthMethod: 'private_key_jwt', ...oidc },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  async function signIn(connection: string): Promise<string | null> {
    t.clock.set(new Date());
    const ua = createUserAgent();
    op.queueLogin('u-alice');
    const { chain } = await ua.navigate(`${t.url}/auth/sso/start?connection=${connection}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    const landing = new URL(chain.at(-1)!);
    const error = landing.searchParams.get('error');
    if (error === null) {
      const res = await ua.request(`${t.url}/auth/sso/result`, { method: 'POST' });
      expect(res.status).toBe(200);
    }
    return error;
  }

  const publicJwks = async (c: Connection) => {
    const res = await fetch(c.clientJwksUri!);
    expect(res.status).toBe(200);
    return (await res.json()) as { keys: Jwk[] };
  };

  it('generates a key pair without a client secret, publishes only its public key, and keeps the private key encrypted', async () => {
    const c = await create();
    expect(c).toMatchObject({ enabled: true, hasClientSecret: false, oidc: { tokenEndpointAuthMethod: 'private_key_jwt', clientKeyAlg: 'ES256' } });
    expect(c.clientJwks!.keys).toHaveLength(1);
    const [key] = c.clientJwks!.keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    for (const m of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(m);
    expect(c.clientJwksUri).toBe(`${t.url}/auth/sso/connections/${c.id}/jwks.json`);
    // The same public key as PEM, for IdPs that take an upload (Auth0).
    expect(c.clientPublicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(await jose.exportJWK(await jose.importSPKI(c.clientPublicKeyPem!, 'ES256'))).toMatchObject({ x: key!.x, y: key!.y });

    // The public URL needs no authentication and serves exactly the published keys.
    const published = await publicJwks(c);
    expect(published).toEqual(c.clientJwks);
    const unknown = await fetch(`${t.url}/auth/sso/connections/${newId()}/jwks.json`);
    expect(unknown.status).toBe(404);

    // At rest: a ciphertext that holds no private member in clear; the audit log holds no private member.
    const row = await t.app.db.tenantWork(admin.tenantId, (tx) => tx.selectFrom('sso_connections').select(['client_key_enc', 'client_secret_enc']).where('tenant_id', '=', admin.tenantId).where('id', '=', c.id).executeTakeFirstOrThrow());
    expect(row.client_secret_enc).toBeNull();
    expect(Buffer.from(row.client_key_enc!).toString('latin1')).not.toContain('"d"');
    const jwk = await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const stored = await tx.selectFrom('sso_connections').selectAll().where('tenant_id', '=', admin.tenantId).where('id', '=', c.id).executeTakeFirstOrThrow();
      return t.app.services.sso.clientKey(tx, admin.tenantId, stored);
    });
    expect(jwk?.kid).toBe(key!.kid);
    const events = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'details']).where('tenant_id', '=', admin.tenantId).where('target_id', '=', c.id).orderBy('seq').execute());
    expect(events.map((e) => e.action)).toEqual(['sso.connection.key_rotated', 'sso.connection.created']);
    expect(JSON.stringify(events)).not.toMatch(/"d":/);
  });

  it('a sign-in authenticates with the key the OP fetched from the JWKS URL; after rotation the OP accepts the new key', async () => {
    const c = await create();
    op.registerClient({ client_id: CLIENT_ID, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: c.clientJwksUri! });
    expect(await signIn(c.id)).toBeNull();
    const firstKid = c.clientJwks!.keys[0]!.kid;
    // RFC 7523 §3 / Core §9: signed with the current key (its kid in the header), iss = sub = client id, aud the token endpoint.
    const assertion = op.lastClientAssertion!;
    expect(jose.decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: firstKid });
    expect(jose.decodeJwt(assertion)).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: `${op.issuer}/token` });

    const rotated = await api<Connection>(admin, 'POST', `/api/v1/sso/connections/${c.id}/keys/rotate`);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const kids = rotated.body.clientJwks!.keys.map((k) => k.kid);
    expect(kids).toHaveLength(2);
    expect(kids[1]).toBe(firstKid);
    expect((await publicJwks(c)).keys.map((k) => k.kid)).toEqual(kids);

    // The current key cannot be removed; an unknown kid is not found; the previous one is removed.
    const current = await api(admin, 'DELETE', `/api/v1/sso/connections/${c.id}/keys/${kids[0]}`);
    expect([current.status, errorCode(current)]).toEqual([409, 'sso.key_in_use']);
    const missing = await api(admin, 'DELETE', `/api/v1/sso/connections/${c.id}/keys/no-such-kid`);
    expect([missing.status, errorCode(missing)]).toEqual([404, 'sso.key_not_found']);
    const removed = await api<Connection>(admin, 'DELETE', `/api/v1/sso/connections/${c.id}/keys/${firstKid}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect((await publicJwks(c)).keys.map((k) => k.kid)).toEqual([kids[0]]);

    // The OP refetches the set (its cache expired): only the new key is there, and the sign-in works with it.
    op.reload();
    expect(await signIn(c.id)).toBeNull();
    expect(jose.decodeProtectedHeader(op.lastClientAssertion!).kid).toBe(kids[0]);

    const actions = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('action').where('tenant_id', '=', admin.tenantId).where('target_id', '=', c.id).where('action', 'in', ['sso.connection.key_rotated', 'sso.connection.key_removed']).orderBy('seq').execute());
    expect(actions.map((a) => a.action)).toEqual(['sso.connection.key_rotated', 'sso.connection.key_rotated', 'sso.connection.key_removed']);
  });

  it('an OP that holds another public key for the client refuses the assertion: the sign-in fails (sso_config)', async () => {
    const c = await create({}, 'tessera-pkjwt-foreign');
    const { d: _d, ...foreign } = await newSigningJwk('ES256');
    op.registerClient({ client_id: 'tessera-pkjwt-foreign', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [{ ...foreign, kid: c.clientJwks!.keys[0]!.kid }] } });
    expect(await signIn(c.id)).toBe('sso_config');
  });

  it('RS256 keys; switching an existing connection to private_key_jwt generates its key; the secret stays optional only for it', async () => {
    const rsa = await create({ clientKeyAlg: 'RS256' }, 'tessera-pkjwt-rsa');
    expect(rsa.clientJwks!.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    for (const m of PRIVATE_MEMBERS) expect(rsa.clientJwks!.keys[0]).not.toHaveProperty(m);
    op.registerClient({ client_id: 'tessera-pkjwt-rsa', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256', jwks_uri: rsa.clientJwksUri! });
    expect(await signIn(rsa.id)).toBeNull();
    expect(jose.decodeProtectedHeader(op.lastClientAssertion!)).toMatchObject({ alg: 'RS256', kid: rsa.clientJwks!.keys[0]!.kid });
    // The issuer as the audience, for IdPs that expect it.
    const toIssuer = await api(admin, 'PATCH', `/api/v1/sso/connections/${rsa.id}`, { oidc: { clientAssertionAudience: 'issuer' } });
    expect(toIssuer.status, JSON.stringify(toIssuer.body)).toBe(200);
    expect(await signIn(rsa.id)).toBeNull();
    expect(jose.decodeJwt(op.lastClientAssertion!).aud).toBe(op.issuer);

    const noSecret = await api(admin, 'POST', '/api/v1/sso/connections', { type: 'oidc', name: `Basic ${newId().slice(-8)}`, oidc: { issuer: op.issuer, clientId: op.clientId } });
    expect([noSecret.status, errorCode(noSecret)]).toEqual([400, 'sso_config']);

    const basic = await api<Connection>(admin, 'POST', '/api/v1/sso/connections', { type: 'oidc', name: `Basic ${newId().slice(-8)}`, oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } });
    expect(basic.status).toBe(201);
    expect(basic.body.clientJwks).toBeNull();
    const notPkjwt = await api(admin, 'POST', `/api/v1/sso/connections/${basic.body.id}/keys/rotate`);
    expect([notPkjwt.status, errorCode(notPkjwt)]).toEqual([400, 'sso_config']);
    const switched = await api<Connection>(admin, 'PATCH', `/api/v1/sso/connections/${basic.body.id}`, { oidc: { tokenEndpointAuthMethod: 'private_key_jwt' } });
    expect(switched.status, JSON.stringify(switched.body)).toBe(200);
    expect(switched.body.clientJwks!.keys).toHaveLength(1);
    const toRsa = await api<Connection>(admin, 'PATCH', `/api/v1/sso/connections/${basic.body.id}`, { oidc: { clientKeyAlg: 'RS256' } });
    expect(toRsa.body.clientJwks!.keys.map((k) => k.alg)).toEqual(['RS256', 'ES256']);
  });

  it('refuses an IdP that does not offer private_key_jwt (discovery), and keeps keys to the tenant', async () => {
    op.tamperNext('/.well-known/openid-configuration', (body) => ({ ...body, token_endpoint_auth_methods_supported: ['client_secret_basic'] }));
    const res = await api(admin, 'POST', '/api/v1/sso/connections', { type: 'oidc', name: `No ${newId().slice(-8)}`, oidc: { issuer: op.issuer, clientId: CLIENT_ID, tokenEndpointAuthMethod: 'private_key_jwt' } });
    expect([res.status, errorCode(res)]).toEqual([400, 'sso_config']);

    const c = await create();
    const rotate = await api(other, 'POST', `/api/v1/sso/connections/${c.id}/keys/rotate`);
    expect([rotate.status, errorCode(rotate)]).toEqual([404, 'sso.connection_not_found']);
    const remove = await api(other, 'DELETE', `/api/v1/sso/connections/${c.id}/keys/${c.clientJwks!.keys[0]!.kid}`);
    expect([remove.status, errorCode(remove)]).toEqual([404, 'sso.connection_not_found']);
  });
});
