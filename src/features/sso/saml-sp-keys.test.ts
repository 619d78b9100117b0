import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { IDP_SSO_URL, idpMetadata, idpVerifiesAuthnRequest, pemBody, readAuthnRequest, spMetadataCertificates } from '../../../test/support/saml-idp.js';
import { markDomainVerified } from '../../../test/support/sso.js';
import { createUserAgent, freePort } from '../../../test/support/user-agent.js';
import { newId } from '../../kernel/ids.js';

interface SpKeyView { id: string; current: boolean; certificatePem: string; fingerprintSha256: string; notAfter: string }
interface SamlConnection { id: string; saml: { acsUrl: string; spEntityId: string; spMetadataUrl: string; signAuthnRequests: boolean; spKeys: SpKeyView[] } }

describe.each(engines())('SAML SP keys: generated, published, rotated; signed AuthnRequests [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  const api = <T = unknown>(method: string, path: string, body?: unknown) => callApi<T>(t, admin, method, path, body);

  beforeAll(async () => {
    const port = await freePort();
    t = await startTestApp(engine, { port, env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    await markDomainVerified(t, admin.tenantId, 'corp.example');
  });
  afterAll(async () => {
    await t?.close();
  });

  async function createConnection(saml: Record<string, unknown> = {}): Promise<SamlConnection> {
    const res = await api<SamlConnection>('POST', '/api/v1/sso/connections', { type: 'saml', name: `SAML ${newId().slice(-8)}`, enabled: true, domains: ['corp.example'], saml: { metadataXml: idpMetadata(), ...saml } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }
  const metadataOf = async (c: SamlConnection) => (await fetch(c.saml.spMetadataUrl)).text();
  const auditOf = (id: string, actions: string[]) =>
    t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'details']).where('tenant_id', '=', admin.tenantId).where('target_id', '=', id).where('action', 'in', actions).orderBy('seq').execute());
  async function startLocation(connectionId: string): Promise<string> {
    const res = await createUserAgent().request(`${t.url}/auth/sso/start?connection=${connectionId}`);
    expect(res.status, await res.clone().text()).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${IDP_SSO_URL}?`)).toBe(true);
    return location;
  }

  it('a new SAML connection gets an SP key: its certificate in the API and in the metadata (signing and encryption), the private key encrypted and never shown', async () => {
    const c = await createConnection();
    expect(c.saml.signAuthnRequests).toBe(false);
    expect(c.saml.spKeys).toHaveLength(1);
    const key = c.saml.spKeys[0]!;
    expect(key.current).toBe(true);
    const cert = new X509Certificate(key.certificatePem);
    expect(cert.fingerprint256).toBe(key.fingerprintSha256);
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.subject).toContain(c.id);
    expect(JSON.stringify(c)).not.toMatch(/PRIVATE KEY|privateKey/);

    const metadata = await metadataOf(c);
    expect(spMetadataCertificates(metadata)).toEqual({ signing: [pemBody(key.certificatePem)], encryption: [pemBody(key.certificatePem)] });
    expect(metadata).toContain('AuthnRequestsSigned="false"');

    // At rest: a ciphertext, not the PEM; the audit log holds the fingerprint, not the key.
    const row = await t.app.db.ownerWork((tx) => tx.selectFrom('sso_connections').select('saml_sp_keys').where('id', '=', c.id).executeTakeFirstOrThrow());
    const stored = JSON.stringify(row.saml_sp_keys);
    expect(stored).not.toContain('PRIVATE KEY');
    expect(Buffer.from((row.saml_sp_keys as { keys: { privateKeyEnc: string }[] }).keys[0]!.privateKeyEnc, 'base64').toString('latin1')).not.toContain('PRIVATE KEY');
    const events = await auditOf(c.id, ['sso.connection.sp_key_rotated', 'sso.connection.created']);
    expect(events.map((e) => e.action)).toEqual(['sso.connection.sp_key_rotated', 'sso.connection.created']);
    expect(events[0]!.details).toMatchObject({ keyId: key.id, fingerprintSha256: key.fingerprintSha256 });
    expect(JSON.stringify(events)).not.toContain('PRIVATE KEY');
  });

  it('signAuthnRequests: the samlify IdP that wants signed requests accepts ours (RSA-SHA256) and refuses an unsigned one', async () => {
    const unsigned = await createConnection();
    const unsignedLocation = await startLocation(unsigned.id);
    expect(new URL(unsignedLocation).searchParams.has('Signature')).toBe(false);
    await expect(idpVerifiesAuthnRequest(unsignedLocation, { metadata: await metadataOf(unsigned) })).rejects.toThrow(/ERR_MISSING_SIG_ALG/);

    const c = await createConnection({ signAuthnRequests: true });
    expect(c.saml.signAuthnRequests).toBe(true);
    const metadata = await metadataOf(c);
    expect(metadata).toContain('AuthnRequestsSigned="true"');
    const location = await startLocation(c.id);
    const verified = await idpVerifiesAuthnRequest(location, { metadata });
    expect(verified.id).toBe(readAuthnRequest(location).id);
    expect(verified.sigAlg).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    // Signed by another connection's key: refused by the IdP.
    await expect(idpVerifiesAuthnRequest(location, { metadata: await metadataOf(unsigned) })).rejects.toThrow(/ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION/);
    // Tampered: another request ID under the same signature.
    const tampered = location.replace(/SAMLRequest=[^&]+/, new URL(unsignedLocation).search.match(/SAMLRequest=[^&]+/)![0]);
    await expect(idpVerifiesAuthnRequest(tampered, { metadata })).rejects.toThrow(/ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION/);
  });

  it('rotation with overlap: the new key signs at once, both are published until the old one is removed; the current one cannot be removed; audited', async () => {
    const c = await createConnection({ signAuthnRequests: true });
    const old = c.saml.spKeys[0]!;
    const rotated = await api<SamlConnection>('POST', `/api/v1/sso/connections/${c.id}/sp-keys/rotate`);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const [current, previous] = rotated.body.saml.spKeys;
    expect(previous).toMatchObject({ id: old.id, current: false });
    expect(current!.current).toBe(true);
    expect(current!.id).not.toBe(old.id);
    expect(spMetadataCertificates(await metadataOf(c))).toEqual({ signing: [pemBody(current!.certificatePem), pemBody(old.certificatePem)], encryption: [pemBody(current!.certificatePem), pemBody(old.certificatePem)] });

    // The new key signs from now on (the IdP that knows only the new certificate accepts; only the old, refuses).
    const location = await startLocation(c.id);
    const sp = (cert: string) => ({ signingCert: cert, entityID: c.saml.spEntityId, acsUrl: c.saml.acsUrl });
    await expect(idpVerifiesAuthnRequest(location, sp(current!.certificatePem))).resolves.toMatchObject({ id: readAuthnRequest(location).id });
    await expect(idpVerifiesAuthnRequest(location, sp(old.certificatePem))).rejects.toThrow(/ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION/);

    // Two keys at most.
    const third = await api<{ error: { code: string } }>('POST', `/api/v1/sso/connections/${c.id}/sp-keys/rotate`);
    expect(third.status).toBe(400);
    expect(third.body.error.code).toBe('sso_config');

    const inUse = await api<{ error: { code: string } }>('DELETE', `/api/v1/sso/connections/${c.id}/sp-keys/${current!.id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.code).toBe('sso.sp_key_in_use');
    const unknown = await api<{ error: { code: string } }>('DELETE', `/api/v1/sso/connections/${c.id}/sp-keys/${newId()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('sso.sp_key_not_found');

    const removed = await api<SamlConnection>('DELETE', `/api/v1/sso/connections/${c.id}/sp-keys/${old.id}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body.saml.spKeys.map((k) => k.id)).toEqual([current!.id]);
    expect(spMetadataCertificates(await metadataOf(c)).signing).toEqual([pemBody(current!.certificatePem)]);
    await expect(idpVerifiesAuthnRequest(await startLocation(c.id), { metadata: await metadataOf(c) })).resolves.toBeTruthy();

    const events = await auditOf(c.id, ['sso.connection.sp_key_rotated', 'sso.connection.sp_key_removed']);
    expect(events.map((e) => e.action)).toEqual(['sso.connection.sp_key_rotated', 'sso.connection.sp_key_rotated', 'sso.connection.sp_key_removed']);
    expect(events[1]!.details).toMatchObject({ keyId: current!.id, previousKeyIds: [old.id] });
    expect(events[2]!.details).toMatchObject({ keyId: old.id, fingerprintSha256: old.fingerprintSha256 });
  });

  it('rotating the SP key of an unknown connection: not found', async () => {
    const other = await api<{ error: { code: string } }>('POST', `/api/v1/sso/connections/${newId()}/sp-keys/rotate`);
    expect(other.status).toBe(404);
  });
});
