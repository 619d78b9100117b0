import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import { inflateRawSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondInstance, startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { certs, IDP_ENTITY_ID, IDP_SSO_URL, idpLogoutRequestUrl, idpMetadata, readAuthnRequest, type ResponseOptions, signedResponse } from '../../../test/support/saml-idp.js';
import { markDomainVerified, ssoLoginFailures } from '../../../test/support/sso.js';
import { createUserAgent, freePort } from '../../../test/support/user-agent.js';
import { newId } from '../../kernel/ids.js';

type Body = Record<string, unknown>;
type UA = ReturnType<typeof createUserAgent>;
const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const MFA = 'https://refeds.org/profile/mfa';

/** Edits a base64 SAML Response as XML (the attacker's tool: @xmldom/xmldom), and encodes it again. */
function editXml(b64: string, edit: (doc: Document) => void): string {
  const doc = new DOMParser().parseFromString(Buffer.from(b64, 'base64').toString('utf8'), 'text/xml');
  edit(doc);
  return Buffer.from(new XMLSerializer().serializeToString(doc as never)).toString('base64');
}
const editText = (b64: string, edit: (xml: string) => string) => Buffer.from(edit(Buffer.from(b64, 'base64').toString('utf8'))).toString('base64');
const first = (doc: Document | Element, ns: string, name: string) => doc.getElementsByTagNameNS(ns, name)[0]!;

// Each test runs whole sign-ins (RSA signing, XML canonicalisation) and one posts 5 MB over HTTP: on a loaded 2-core
// CI machine the default 30 s per test was once too short, so these get the 90 s the other HTTP suites have.
describe.each(engines())('SAML sign-in over HTTP with a samlify IdP [%s]', { timeout: 90_000 }, (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let roleId: string;
  let connectionId: string;
  let acsUrl: string;
  let spEntityId: string;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    const port = await freePort();
    // Loopback allowed: the IdP metadata URL test serves it from this machine.
    t = await startTestApp(engine, { port, env: { PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_SSO_ALLOW_LOOPBACK: 'true' } });
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'SAML users', permissions: ['idp.view'] });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    roleId = role.body.id;
    await markDomainVerified(t, admin.tenantId, 'corp.example');
    const created = await createConnection();
    connectionId = created.id;
    acsUrl = created.saml.acsUrl;
    spEntityId = created.saml.spEntityId;
  });
  afterAll(async () => {
    await t?.close();
  });

  async function createConnection(overrides: Body = {}, saml: Body = {}): Promise<{ id: string; saml: { acsUrl: string; spEntityId: string; certificates: Body[] } }> {
    const res = await api<{ id: string; saml: { acsUrl: string; spEntityId: string; certificates: Body[] } }>(admin, 'POST', '/api/v1/sso/connections', {
      type: 'saml', name: `Okta SAML ${newId().slice(-8)}`, enabled: true, domains: ['corp.example', 'evil.example'], defaultRoleId: roleId, rules: [],
      claimMapping: { email: 'email', name: 'displayName', groups: 'groups', department: 'department' },
      saml: { metadataXml: idpMetadata(), ...saml }, ...overrides,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  /** The browser starts at /auth/sso/start: redirected to the IdP with an AuthnRequest; its ID. */
  async function start(ua: UA, connection = connectionId): Promise<string> {
    const res = await ua.request(`${t.url}/auth/sso/start?connection=${connection}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    expect(res.status, await res.clone().text()).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${IDP_SSO_URL}?`)).toBe(true);
    const request = readAuthnRequest(location);
    expect(request.issuer).toBe(spEntityIdOf(connection));
    return request.id;
  }
  const spEntityIdOf = (id: string) => `${t.url}/auth/sso/saml/${id}/metadata`;
  const acsOf = (id: string) => `${t.url}/auth/sso/saml/acs/${id}`;

  /** The browser posts the IdP's Response to the ACS (HTTP-POST binding); where it lands and the `error`. */
  async function post(ua: UA, samlResponse: string, connection = connectionId) {
    const res = await ua.request(acsOf(connection), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLResponse: samlResponse }).toString() });
    const location = res.headers.get('location');
    const landing = location ? new URL(location) : null;
    return { res, landing, error: landing?.searchParams.get('error') ?? null };
  }

  const respond = (requestId: string | null, o: Partial<ResponseOptions> = {}, connection = connectionId) =>
    signedResponse({ acsUrl: acsOf(connection), spEntityId: spEntityIdOf(connection), requestId, nameId: 'alice@corp.example', attributes: { displayName: 'Alice Example', groups: ['staff'] }, ...o });

  /** A whole sign-in in a fresh browser, with the response `make` builds for the AuthnRequest's ID. */
  async function signIn(make: (requestId: string) => Promise<string>, connection = connectionId) {
    t.clock.set(new Date());
    const ua = createUserAgent();
    const requestId = await start(ua, connection);
    return { ua, requestId, ...(await post(ua, await make(requestId), connection)) };
  }

  const failures = (code: string) => ssoLoginFailures(t, admin.tenantId, code);

  async function expectRefused(run: Promise<Awaited<ReturnType<typeof signIn>>>, code: string) {
    const before = await failures(code);
    const r = await run;
    expect(r.res.status).toBe(302);
    expect(r.error, r.landing?.href).toBe(code);
    expect(r.landing?.pathname).toBe('/app');
    expect(r.ua.jar.has('tessera_sso_result')).toBe(false);
    expect(await failures(code)).toBe(before + 1);
  }

  async function result(ua: UA) {
    const res = await ua.request(`${t.url}/auth/sso/result`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as Body };
  }

  it('the connection: imported from IdP metadata, certificates with expiry in the API, SP metadata published', async () => {
    const got = await api<Body>(admin, 'GET', `/api/v1/sso/connections/${connectionId}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      type: 'saml',
      saml: { idpEntityId: IDP_ENTITY_ID, ssoUrl: IDP_SSO_URL, ssoBinding: 'redirect', sloUrl: 'https://idp.saml.test/slo', allowSha1: false, allowIdpInitiated: false, clockSkewSeconds: 60, acsUrl, spEntityId },
    });
    const [cert] = (got.body.saml as { certificates: Array<{ fingerprintSha256: string; notAfter: string; subject: string }> }).certificates;
    expect(cert!.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(Date.parse(cert!.notAfter)).toBeGreaterThan(Date.now());
    expect(cert!.subject).toContain('Tessera test IdP idp-a');

    const metadata = await fetch(`${t.url}/auth/sso/saml/${connectionId}/metadata`);
    expect(metadata.status).toBe(200);
    expect(metadata.headers.get('content-type')).toContain('application/samlmetadata+xml');
    const xml = await metadata.text();
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    expect(doc.documentElement.getAttribute('entityID')).toBe(spEntityId);
    const acs = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:metadata', 'AssertionConsumerService')[0]!;
    expect(acs.getAttribute('Location')).toBe(acsUrl);
    expect(acs.getAttribute('Binding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect((await fetch(`${t.url}/auth/sso/saml/${newId()}/metadata`)).status).toBe(404);
  });

  it('refuses a bad configuration: a certificate that is not one, three certificates, a DOCTYPE in the metadata, no entity ID', async () => {
    const bad = async (saml: Body) => {
      const res = await api<Body>(admin, 'POST', '/api/v1/sso/connections', { type: 'saml', name: `Bad ${newId().slice(-8)}`, saml });
      return res;
    };
    expect((await bad({ idpEntityId: IDP_ENTITY_ID, ssoUrl: IDP_SSO_URL, certificates: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] })).body).toMatchObject({ error: { code: 'sso_config' } });
    expect((await bad({ idpEntityId: IDP_ENTITY_ID, ssoUrl: IDP_SSO_URL, certificates: [certs.a, certs.b, certs.attacker] })).status).toBe(400);
    expect((await bad({ metadataXml: `<!DOCTYPE x [<!ENTITY e "x">]>${idpMetadata()}` })).body).toMatchObject({ error: { code: 'sso_config' } });
    expect((await bad({ ssoUrl: IDP_SSO_URL, certificates: [certs.a] })).body).toMatchObject({ error: { code: 'sso_config' } });
  });

  it('happy path: SP-initiated, JIT with the default role, a working session, the same user the second time', async () => {
    const r = await signIn((id) => respond(id));
    expect(r.error, r.landing?.href).toBeNull();
    expect(r.landing?.href).toBe(`${t.url}/app`);
    expect(r.ua.jar.has('tessera_saml_tx')).toBe(false);
    const answer = await result(r.ua);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ status: 'authenticated', tenantId: admin.tenantId });
    const session = answer.body.session as { accessToken: string };
    const me = await api<Body>(session, 'GET', '/api/v1/me');
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body).toMatchObject({ email: 'alice@corp.example' });
    const again = await signIn((id) => respond(id));
    expect(again.error).toBeNull();
    expect((await result(again.ua)).body.userId).toBe(answer.body.userId);
  });

  it('rules see SAML attributes; MFA through AuthnContextClassRef', async () => {
    const staff = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'SAML engineers', permissions: ['idp.view'] });
    const conn = await createConnection({ rules: [{ claim: 'groups', operator: 'contains', value: 'engineering', roleId: staff.body.id }], mfaPolicy: { requireMfa: true } });
    const make = (o: Partial<ResponseOptions>) => (id: string) => respond(id, { nameId: 'bob@corp.example', attributes: { groups: ['engineering', 'staff'] }, ...o }, conn.id);
    await expectRefused(signIn(make({}), conn.id), 'sso_mfa_required');
    const ok = await signIn(make({ authnContextClassRef: MFA }), conn.id);
    expect(ok.error, ok.landing?.href).toBeNull();
    const answer = await result(ok.ua);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const userId = answer.body.userId as string;
    const assignments = await t.app.db.ownerWork((tx) => tx.selectFrom('role_assignments').select(['role_id', 'managed_by']).where('user_id', '=', userId).execute());
    expect(assignments).toEqual([{ role_id: staff.body.id, managed_by: `sso:${conn.id}` }]);
  });

  it('the email: from the attribute, else a NameID of format emailAddress; sso_config when neither; sso_domain outside the verified domains', async () => {
    const viaAttribute = await signIn((id) => respond(id, { nameId: 'opaque-123', nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', attributes: { email: 'carol@corp.example' } }));
    expect(viaAttribute.error, viaAttribute.landing?.href).toBeNull();
    await expectRefused(signIn((id) => respond(id, { nameId: 'opaque-456', nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', attributes: {} })), 'sso_config');
    await expectRefused(signIn((id) => respond(id, { nameId: 'mallory@evil.example' })), 'sso_domain');
  });

  it('refuses an unsigned response, one signed by another certificate, and SHA-1 unless allowed', async () => {
    await expectRefused(signIn(async (id) => editXml(await respond(id), (doc) => {
      const sig = doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0]!;
      sig.parentNode!.removeChild(sig);
    })), 'sso_signature');
    await expectRefused(signIn((id) => respond(id, { signer: 'attacker' })), 'sso_signature');
    await expectRefused(signIn((id) => respond(id, { sha1: true })), 'sso_signature');
    const legacy = await createConnection({}, { allowSha1: true });
    const ok = await signIn((id) => respond(id, { sha1: true }, legacy.id), legacy.id);
    expect(ok.error, ok.landing?.href).toBeNull();
  });

  it('encrypted assertions: decrypted with the SP key, the previous one too during a rotation; SHA-1 inside refused; encrypted for another key: sso_config', async () => {
    type WithKeys = { id: string; saml: { spKeys: { id: string; certificatePem: string }[] } };
    const conn = (await createConnection()) as unknown as WithKeys;
    const cert = conn.saml.spKeys[0]!.certificatePem;
    const encrypted = (o: Partial<ResponseOptions> = {}, key = cert) => (id: string) => respond(id, { encryptFor: key, ...o }, conn.id);

    const sample = Buffer.from(await encrypted()('_sample'), 'base64').toString('utf8');
    expect(sample).toContain('EncryptedAssertion');
    expect(sample).not.toContain('alice@corp.example');
    const ok = await signIn(encrypted(), conn.id);
    expect(ok.error, ok.landing?.href).toBeNull();
    expect((await result(ok.ua)).body).toMatchObject({ status: 'authenticated' });

    // The signature inside the encrypted assertion is checked for SHA-1 once decrypted.
    await expectRefused(signIn(encrypted({ sha1: true }), conn.id), 'sso_signature');
    // Signed by another certificate, then encrypted to us: refused.
    await expectRefused(signIn(encrypted({ signer: 'attacker' }), conn.id), 'sso_signature');
    // XML Encryption 1.1 §5.4.1 and NIST SP 800-131A: RSA PKCS#1 v1.5 key transport (Bleichenbacher-style
    // oracles) and Triple DES content encryption are refused.
    await expectRefused(signIn(encrypted({ legacyEncryption: 'rsa-1_5' }), conn.id), 'sso_config');
    await expectRefused(signIn(encrypted({ legacyEncryption: 'tripledes' }), conn.id), 'sso_config');
    // Encrypted to another connection's SP key.
    const other = (await createConnection()) as unknown as WithKeys;
    await expectRefused(signIn(encrypted({}, other.saml.spKeys[0]!.certificatePem), conn.id), 'sso_config');

    // Rotation with overlap: the IdP may still encrypt to the previous key until it is removed.
    const rotated = await api<WithKeys>(admin, 'POST', `/api/v1/sso/connections/${conn.id}/sp-keys/rotate`);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const next = rotated.body.saml.spKeys[0]!.certificatePem;
    expect((await signIn(encrypted({}, cert), conn.id)).error).toBeNull();
    expect((await signIn(encrypted({}, next), conn.id)).error).toBeNull();
    const removed = await api(admin, 'DELETE', `/api/v1/sso/connections/${conn.id}/sp-keys/${conn.saml.spKeys[0]!.id}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    await expectRefused(signIn(encrypted({}, cert), conn.id), 'sso_config');
    expect((await signIn(encrypted({}, next), conn.id)).error).toBeNull();
  });

  it('IdP-initiated Single Logout: a signed LogoutRequest ends the sessions of that NameID from this connection, answers a LogoutResponse; unsigned, wrongly signed or SHA-1 refused and audited', async () => {
    const conn = await createConnection();
    const sloUrl = `${t.url}/auth/sso/saml/slo/${conn.id}`;
    const signInAs = async (nameId: string) => {
      const r = await signIn((id) => respond(id, { nameId }, conn.id), conn.id);
      expect(r.error, r.landing?.href).toBeNull();
      const answer = await result(r.ua);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return answer.body.session as { accessToken: string };
    };
    const dave = await signInAs('dave@corp.example');
    const erin = await signInAs('erin@corp.example');
    // A password-less session of the same user from another connection is not this connection's to end.
    const daveElsewhere = await (async () => {
      const r = await signIn((id) => respond(id, { nameId: 'dave@corp.example' }));
      return (await result(r.ua)).body.session as { accessToken: string };
    })();
    const me = async (who: { accessToken: string }) => (await api(who, 'GET', '/api/v1/me')).status;
    expect(await me(dave)).toBe(200);
    const sessionRow = await t.app.db.ownerWork((tx) => tx.selectFrom('sessions').innerJoin('sso_logins', (j) => j.onRef('sso_logins.id', '=', 'sessions.source_id').onRef('sso_logins.tenant_id', '=', 'sessions.tenant_id')).select(['sso_logins.name_id', 'sso_logins.connection_id', 'sso_logins.session_index']).where('sessions.tenant_id', '=', admin.tenantId).where('sso_logins.connection_id', '=', conn.id).execute());
    expect(sessionRow.map((r) => r.name_id).sort()).toEqual(['dave@corp.example', 'erin@corp.example']);
    expect(sessionRow.every((r) => r.session_index?.startsWith('_s'))).toBe(true);

    const logoutEvents = (action: string) => t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['details', 'error_code']).where('tenant_id', '=', admin.tenantId).where('target_id', '=', conn.id).where('action', '=', action).execute());
    const ua = createUserAgent();
    const refused = async (url: string, code: string) => {
      const before = (await logoutEvents('sso.logout.failed')).length;
      const res = await ua.request(url);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
      expect((await logoutEvents('sso.logout.failed')).length).toBe(before + 1);
    };
    const base = { sloUrl, spEntityId: spEntityIdOf(conn.id), nameId: 'dave@corp.example' };
    await refused(idpLogoutRequestUrl({ ...base, signed: false }), 'sso_signature');
    await refused(idpLogoutRequestUrl({ ...base, signer: 'attacker' }), 'sso_signature');
    await refused(idpLogoutRequestUrl({ ...base, sha1: true }), 'sso_signature');
    // The signature covers the query: another NameID under the same signature is refused.
    const signed = idpLogoutRequestUrl(base);
    const other = idpLogoutRequestUrl({ ...base, nameId: 'erin@corp.example', signed: false });
    await refused(signed.replace(/SAMLRequest=[^&]+/, other.match(/SAMLRequest=[^&]+/)![0]), 'sso_signature');
    expect(await me(dave)).toBe(200);

    // A NameID with no session here: answered, and nobody else's session ends.
    const nobody = await ua.request(idpLogoutRequestUrl({ ...base, nameId: 'nobody@corp.example' }));
    expect(nobody.status).toBe(302);
    expect(await me(erin)).toBe(200);

    const res = await ua.request(signed);
    expect(res.status, await res.clone().text()).toBe(302);
    const answer = new URL(res.headers.get('location')!);
    expect(answer.origin + answer.pathname).toBe('https://idp.saml.test/slo');
    expect(answer.searchParams.get('SAMLResponse')).toBeTruthy();
    expect(answer.searchParams.get('RelayState')).toBe('relay-1');
    expect(answer.searchParams.get('Signature')).toBeTruthy();
    // Dave's session from this connection ends; Erin's, and Dave's from the other connection, do not.
    expect(await me(dave)).toBe(401);
    expect(await me(erin)).toBe(200);
    expect(await me(daveElsewhere)).toBe(200);
    const events = await logoutEvents('sso.logout.idp_initiated');
    expect(events.at(-1)!.details).toMatchObject({ nameId: 'dave@corp.example', sessions: 1 });
    // Our SP metadata names the SLO endpoint.
    expect(await (await fetch(`${t.url}/auth/sso/saml/${conn.id}/metadata`)).text()).toContain(`Location="${sloUrl}"`);
  });

  it('SP-initiated Single Logout: our logout of a SAML session answers the IdP SLO URL with a signed LogoutRequest for its NameID and SessionIndex; a session from a connection without SLO URL ends with 204', async () => {
    const conn = await createConnection({}, { signAuthnRequests: false });
    const r = await signIn((id) => respond(id, { nameId: 'frank@corp.example' }, conn.id), conn.id);
    const session = (await result(r.ua)).body.session as { accessToken: string };
    const login = await t.app.db.ownerWork((tx) => tx.selectFrom('sso_logins').select(['name_id', 'session_index']).where('tenant_id', '=', admin.tenantId).where('connection_id', '=', conn.id).executeTakeFirstOrThrow());
    const out = await api<{ redirectTo: string }>(session, 'POST', '/auth/logout');
    expect(out.status, JSON.stringify(out.body)).toBe(200);
    const url = new URL(out.body.redirectTo);
    expect(url.origin + url.pathname).toBe('https://idp.saml.test/slo');
    expect(url.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(url.searchParams.get('Signature')).toBeTruthy();
    const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    const request = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    expect(request.localName).toBe('LogoutRequest');
    expect(request.getAttribute('Destination')).toBe('https://idp.saml.test/slo');
    expect(first(request as unknown as Element, SAML, 'NameID').textContent).toBe('frank@corp.example');
    expect(first(request as unknown as Element, SAMLP, 'SessionIndex').textContent).toBe(login.session_index);
    expect(first(request as unknown as Element, SAML, 'Issuer').textContent).toBe(spEntityIdOf(conn.id));
    expect((await api(session, 'GET', '/api/v1/me')).status).toBe(401);
    // The IdP's LogoutResponse comes back to our SLO URL: the browser lands on the sign-in page.
    const back = await createUserAgent().request(`${t.url}/auth/sso/saml/slo/${conn.id}?SAMLResponse=abc`);
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe(`${t.url}/login`);
    // The same answer by HTTP-POST, the binding our SP metadata names for SingleLogoutService (saml-bindings §3.5).
    const posted = await createUserAgent().request(`${t.url}/auth/sso/saml/slo/${conn.id}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLResponse: 'abc', RelayState: 'r' }).toString() });
    expect(posted.status, await posted.clone().text()).toBe(302);
    expect(posted.headers.get('location')).toBe(`${t.url}/login`);
    expect(await (await fetch(`${t.url}/auth/sso/saml/${conn.id}/metadata`)).text()).toContain('SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"');
    const audited = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('details').where('tenant_id', '=', admin.tenantId).where('target_id', '=', conn.id).where('action', '=', 'sso.logout.sp_initiated').execute());
    expect(audited.at(-1)!.details).toMatchObject({ nameId: 'frank@corp.example', signed: true });

    // No IdP SLO URL: our logout only.
    const noSlo = await createConnection({}, { sloUrl: null });
    const r2 = await signIn((id) => respond(id, { nameId: 'frank@corp.example' }, noSlo.id), noSlo.id);
    const session2 = (await result(r2.ua)).body.session as { accessToken: string };
    expect((await api(session2, 'POST', '/auth/logout')).status).toBe(204);
  });

  it('a response signed as a whole (not the assertion) is accepted; its assertion swapped for an unsigned one is not', async () => {
    const ok = await signIn((id) => respond(id, { sign: 'response' }));
    expect(ok.error, ok.landing?.href).toBeNull();
    await expectRefused(signIn(async (id) => editXml(await respond(id, { sign: 'response' }), (doc) => {
      const nameId = first(doc, SAML, 'NameID');
      nameId.textContent = 'ceo@corp.example';
    })), 'sso_signature');
  });

  it('XML signature wrapping: a second assertion before or after the signed one, or the signed one moved into Extensions / ds:Object', async () => {
    const forged = (doc: Document) => {
      const copy = first(doc, SAML, 'Assertion').cloneNode(true) as Element;
      copy.setAttribute('ID', '_forged');
      const sig = copy.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0];
      if (sig) copy.removeChild(sig);
      first(copy, SAML, 'NameID').textContent = 'ceo@corp.example';
      return copy;
    };
    // A second, unsigned assertion before the signed one.
    await expectRefused(signIn(async (id) => editXml(await respond(id), (doc) => {
      const signed = first(doc, SAML, 'Assertion');
      signed.parentNode!.insertBefore(forged(doc), signed);
    })), 'sso_signature');
    // After it.
    await expectRefused(signIn(async (id) => editXml(await respond(id), (doc) => {
      doc.documentElement.appendChild(forged(doc));
    })), 'sso_signature');
    // The signed assertion hidden in samlp:Extensions, the forged one in its place.
    await expectRefused(signIn(async (id) => editXml(await respond(id), (doc) => {
      const signed = first(doc, SAML, 'Assertion');
      const fake = forged(doc);
      const extensions = doc.createElementNS(SAMLP, 'samlp:Extensions');
      doc.documentElement.insertBefore(extensions, first(doc, SAMLP, 'Status'));
      signed.parentNode!.replaceChild(fake, signed);
      extensions.appendChild(signed);
    })), 'sso_signature');
    // The signed assertion inside a ds:Object of the forged assertion's signature (the classic XSW #7/#8 shape).
    await expectRefused(signIn(async (id) => editXml(await respond(id), (doc) => {
      const signed = first(doc, SAML, 'Assertion');
      const fake = forged(doc);
      fake.setAttribute('ID', signed.getAttribute('ID')!);
      const sig = signed.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0]!.cloneNode(true) as Element;
      const object = doc.createElementNS('http://www.w3.org/2000/09/xmldsig#', 'ds:Object');
      sig.appendChild(object);
      fake.insertBefore(sig, fake.firstChild!.nextSibling);
      signed.parentNode!.replaceChild(fake, signed);
      const inner = signed.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0]!;
      signed.removeChild(inner);
      object.appendChild(signed);
    })), 'sso_signature');
  });

  it('comment injection in NameID: user@corp.example<!---->.evil.example is read whole (evil.example is not the user\'s domain)', async () => {
    const r = await signIn(async (id) => editText(await respond(id, { nameId: 'user@corp.example.evil.example' }), (xml) => xml.replace('user@corp.example.evil.example', 'user@corp.example<!---->.evil.example')));
    // The signature still verifies (comments are not signed); the NameID is read whole from the signed node, so the
    // user is user@corp.example.evil.example, whose domain is not a verified one of the tenant.
    expect(r.error).toBe('sso_domain');
    const users = await t.app.db.ownerWork((tx) => tx.selectFrom('users').select('id').where('email', '=', 'user@corp.example').execute());
    expect(users).toEqual([]);
  });

  it('refuses a replayed assertion (the response and its browser\'s cookie, stolen together), on this instance and another', async () => {
    const ua = createUserAgent();
    t.clock.set(new Date());
    const requestId = await start(ua);
    const txCookie = ua.jar.get('tessera_saml_tx')!;
    const response = await respond(requestId);
    const ok = await post(ua, response);
    expect(ok.error, ok.landing?.href).toBeNull();
    const before = await failures('sso_replay');
    const second = await startSecondInstance(t);
    try {
      for (const base of [t.url, second.url]) {
        const res = await fetch(`${base}/auth/sso/saml/acs/${connectionId}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `tessera_saml_tx=${txCookie}` }, body: new URLSearchParams({ SAMLResponse: response }).toString() });
        expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('sso_replay');
      }
    } finally {
      await second.close();
    }
    expect(await failures('sso_replay')).toBe(before + 2);
  });

  it('refuses expired and not-yet-valid assertions (beyond the 60 s skew), and accepts within it', async () => {
    const now = Date.now();
    await expectRefused(signIn((id) => respond(id, { now: new Date(now - 600_000), notBefore: new Date(now - 600_000), notOnOrAfter: new Date(now - 120_000) })), 'sso_expired');
    await expectRefused(signIn((id) => respond(id, { notBefore: new Date(now + 300_000), notOnOrAfter: new Date(now + 600_000) })), 'sso_expired');
    // Only the bearer SubjectConfirmationData expired (saml-profiles §4.1.4.2), the Conditions still valid.
    await expectRefused(signIn((id) => respond(id, { subjectNotOnOrAfter: new Date(now - 120_000) })), 'sso_expired');
    const skewed = await signIn((id) => respond(id, { notBefore: new Date(now + 30_000) }));
    expect(skewed.error, skewed.landing?.href).toBeNull();
  });

  it('refuses a wrong Audience, Recipient, Destination, Issuer, and a non-Success status', async () => {
    await expectRefused(signIn((id) => respond(id, { audience: 'https://other-sp.example/metadata' })), 'sso_audience');
    await expectRefused(signIn((id) => respond(id, { recipient: 'https://other-sp.example/acs' })), 'sso_audience');
    await expectRefused(signIn((id) => respond(id, { destination: 'https://other-sp.example/acs' })), 'sso_audience');
    await expectRefused(signIn((id) => respond(id, { issuer: 'https://evil-idp.example/metadata' })), 'sso_signature');
    // The signed assertion's own Issuer, the Response's being right.
    await expectRefused(signIn((id) => respond(id, { assertionIssuer: 'https://evil-idp.example/metadata' })), 'sso_signature');
    await expectRefused(signIn((id) => respond(id, { status: 'urn:oasis:names:tc:SAML:2.0:status:Requester' })), 'sso_config');
  });

  it('refuses a DOCTYPE (entity expansion) and a body over 256 KiB before parsing', async () => {
    await expectRefused(signIn(async (id) => editText(await respond(id), (xml) => `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${xml.replace(/^<\?xml[^>]*\?>/, '')}`)), 'sso_signature');
    const ua = createUserAgent();
    await start(ua);
    // 5 MB, and just over the ACS's own 256 KiB cap (below the server-wide limit).
    for (const size of [5 * 1024 * 1024, 300 * 1024]) {
      const big = await post(ua, 'A'.repeat(size));
      expect(big.res.status).toBe(413);
      expect(await big.res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    }
  });

  it('refuses a response to another browser\'s request (InResponseTo), and one with no sign-in under way', async () => {
    const victim = createUserAgent();
    const victimRequest = await start(victim);
    const response = await respond(victimRequest);
    // The attacker's browser has its own transaction: the response answers another request.
    await expectRefused((async () => {
      const ua = createUserAgent();
      await start(ua);
      return { ua, requestId: '', ...(await post(ua, response)) };
    })(), 'sso_state');
    // Only the signed SubjectConfirmationData answers another request; only the (unsigned) Response does.
    await expectRefused(signIn((id) => respond(id, { subjectInResponseTo: `${id}x` })), 'sso_state');
    await expectRefused(signIn((id) => respond(id, { responseInResponseTo: `${id}x` })), 'sso_state');
    // No transaction at all (IdP-initiated is off): sso_expired, nothing signed in.
    const bare = await post(createUserAgent(), await respond(null));
    expect(bare.error).toBe('sso_expired');
  });

  it('certificate rotation: two certificates accept both keys; the old one removed is refused', async () => {
    const conn = await createConnection({}, { metadataXml: idpMetadata([certs.a, certs.b]) });
    expect(conn.saml.certificates).toHaveLength(2);
    for (const signer of ['a', 'b'] as const) {
      const r = await signIn((id) => respond(id, { signer }, conn.id), conn.id);
      expect(r.error, `${signer}: ${r.landing?.href}`).toBeNull();
    }
    const patched = await api<Body>(admin, 'PATCH', `/api/v1/sso/connections/${conn.id}`, { saml: { certificates: [certs.b] } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    await expectRefused(signIn((id) => respond(id, { signer: 'a' }, conn.id), conn.id), 'sso_signature');
    const ok = await signIn((id) => respond(id, { signer: 'b' }, conn.id), conn.id);
    expect(ok.error).toBeNull();
  });

  it('IdP-initiated: refused unless the connection opts in; then accepted once, RelayState through the return allow-list, never with an InResponseTo', async () => {
    const conn = await createConnection({}, { allowIdpInitiated: true });
    const postTo = (ua: UA, response: string, relayState?: string) =>
      ua.request(acsOf(conn.id), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLResponse: response, ...(relayState ? { RelayState: relayState } : {}) }).toString() });
    const landing = (res: Response) => new URL(res.headers.get('location')!);
    t.clock.set(new Date());
    const ua = createUserAgent();
    const response = await respond(null, {}, conn.id);
    const ok = await postTo(ua, response, `${t.url}/app/home`);
    expect(landing(ok).searchParams.get('error'), landing(ok).href).toBeNull();
    expect(landing(ok).href).toBe(`${t.url}/app/home`);
    expect((await result(ua)).status).toBe(200);
    // The same Response again: spent.
    expect(landing(await postTo(createUserAgent(), response)).searchParams.get('error')).toBe('sso_replay');
    // RelayState off the allow-list is not followed (the default landing instead).
    const offsite = await postTo(createUserAgent(), await respond(null, {}, conn.id), 'https://evil.example/phish');
    expect(landing(offsite).origin).toBe(t.url);
    expect(landing(offsite).pathname).toBe('/login');
    // A Response answering a request this browser never sent.
    expect(landing(await postTo(createUserAgent(), await respond('_someone-elses', {}, conn.id))).searchParams.get('error')).toBe('sso_state');
    // The default connection does not accept them, and audits the refusal.
    const before = await failures('sso_expired');
    expect((await post(createUserAgent(), await respond(null))).error).toBe('sso_expired');
    expect(await failures('sso_expired')).toBe(before + 1);
  });

  it('HTTP-POST binding: /auth/sso/start answers an auto-submitted form to the IdP, under a CSP that allows only that', async () => {
    const conn = await createConnection({}, { ssoBinding: 'post', ssoUrl: `${IDP_SSO_URL}/post` });
    t.clock.set(new Date());
    const ua = createUserAgent();
    const res = await ua.request(`${t.url}/auth/sso/start?connection=${conn.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain(`form-action https://idp.saml.test`);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    const html = await res.text();
    expect(html).toContain(`action="${IDP_SSO_URL}/post"`);
    const samlRequest = /name="SAMLRequest" value="([^"]+)"/.exec(html)![1]!;
    const request = new DOMParser().parseFromString(Buffer.from(samlRequest, 'base64').toString('utf8'), 'text/xml').documentElement;
    expect(request.getAttribute('AssertionConsumerServiceURL')).toBe(acsOf(conn.id));
    const done = await post(ua, await respond(request.getAttribute('ID'), {}, conn.id), conn.id);
    expect(done.error, done.landing?.href).toBeNull();
  });

  it('Test connection through SAML: a dry run records the attributes and the roles, creates no user', async () => {
    const test = await api<{ url: string; testId: string }>(admin, 'POST', `/api/v1/sso/connections/${connectionId}/test`, { returnTo: `${t.url}/admin/sso` });
    expect(test.status, JSON.stringify(test.body)).toBe(200);
    t.clock.set(new Date());
    const ua = createUserAgent();
    const res = await ua.request(test.body.url);
    const requestId = readAuthnRequest(res.headers.get('location')!).id;
    const done = await post(ua, await respond(requestId, { nameId: 'dora@corp.example', attributes: { groups: ['qa'] } }));
    expect(done.landing?.searchParams.get('ssoTest')).toBe(test.body.testId);
    expect(ua.jar.has('tessera_sso_result')).toBe(false);
    const outcome = await api<Body>(admin, 'GET', `/api/v1/sso/connections/${connectionId}/tests/${test.body.testId}`);
    expect(outcome.body).toMatchObject({ status: 'succeeded', outcome: { email: 'dora@corp.example', user: { existingUserId: null, wouldBeProvisioned: true }, claims: { groups: 'qa', nameId: 'dora@corp.example' } } });
    const users = await t.app.db.ownerWork((tx) => tx.selectFrom('users').select('id').where('email', '=', 'dora@corp.example').execute());
    expect(users).toEqual([]);
  });

  it('import from the IdP metadata URL, and a refresh picks up the IdP\'s new certificate', async () => {
    let served = idpMetadata([certs.a]);
    const server = createServer((req, res) => {
      res.writeHead(req.url === '/metadata' ? 200 : 404, { 'content-type': 'application/samlmetadata+xml' }).end(req.url === '/metadata' ? served : '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata`;
      // Seconds apart on the test clock (the admin's access token stays valid).
      const start = Math.floor(Date.now() / 1000) * 1000;
      const at = (step: number) => new Date(start + step * 1000);
      const fetchedAt = async () => (await api<{ saml: { metadataFetchedAt: string | null } }>(admin, 'GET', `/api/v1/sso/connections/${conn.id}`)).body.saml.metadataFetchedAt;
      t.clock.set(at(0));
      const conn = await createConnection({}, { metadataXml: undefined, metadataUrl: url });
      expect(conn.saml).toMatchObject({ metadataUrl: url, metadataFetchedAt: at(0).toISOString(), idpEntityId: IDP_ENTITY_ID, certificates: [{ subject: expect.stringContaining('idp-a') as string }] });
      served = idpMetadata([certs.b]);
      t.clock.set(at(1));
      const refreshed = await api<{ saml: { metadataFetchedAt: string; certificates: Array<{ subject: string }> } }>(admin, 'POST', `/api/v1/sso/connections/${conn.id}/discovery/refresh`);
      expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
      expect(refreshed.body.saml.certificates.map((c) => c.subject)).toEqual([expect.stringContaining('idp-b')]);
      expect(refreshed.body.saml.metadataFetchedAt).toBe(at(1).toISOString());
      // A connection pasted as XML was never fetched from a URL.
      expect((await createConnection()).saml).toMatchObject({ metadataUrl: null, metadataFetchedAt: null });
      // A refused refresh (the document is not metadata) keeps the settings and when they were last fetched.
      served = '<not-metadata/>';
      t.clock.set(at(2));
      expect((await api<Body>(admin, 'POST', `/api/v1/sso/connections/${conn.id}/discovery/refresh`)).body).toMatchObject({ error: { code: 'sso_config' } });
      expect(await fetchedAt()).toBe(at(1).toISOString());
      served = idpMetadata([certs.b]);
      const missing = await api<Body>(admin, 'POST', '/api/v1/sso/connections', { type: 'saml', name: `Gone ${newId().slice(-8)}`, saml: { metadataUrl: `${url}/nope` } });
      expect(missing.body).toMatchObject({ error: { code: 'sso_config' } });

      // The scheduled refresh: a new certificate set is applied and audited with the fingerprints before and after.
      const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
      const events = async (action: string) => t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['details', 'outcome']).where('tenant_id', '=', admin.tenantId).where('target_id', '=', conn.id).where('action', '=', action).orderBy('seq').execute());
      t.clock.set(at(3));
      const unchanged = await t.app.services.sso.refreshMetadataPass();
      expect(unchanged).toMatchObject({ changed: 0 });
      expect(await events('sso.connection.metadata_refreshed')).toHaveLength(0);
      // Fetched and found the same: the time of the fetch is kept, nothing else changes.
      expect(await fetchedAt()).toBe(at(3).toISOString());
      served = idpMetadata([certs.b, certs.a]);
      expect(await t.app.services.sso.refreshMetadataPass()).toMatchObject({ changed: 1 });
      const got = await api<{ enabled: boolean; saml: { certificates: Array<{ fingerprintSha256: string }> } }>(admin, 'GET', `/api/v1/sso/connections/${conn.id}`);
      expect(got.body.saml.certificates.map((c) => c.fingerprintSha256)).toEqual([fingerprint(certs.b), fingerprint(certs.a)]);
      const refreshedEvents = await events('sso.connection.metadata_refreshed');
      expect(refreshedEvents).toHaveLength(1);
      expect(refreshedEvents[0]!.details).toMatchObject({ before: { certificates: [fingerprint(certs.b)] }, after: { certificates: [fingerprint(certs.b), fingerprint(certs.a)] } });
      // A failing fetch keeps the settings and the connection enabled; audited.
      served = '<not-metadata/>';
      expect(await t.app.services.sso.refreshMetadataPass()).toMatchObject({ changed: 0, failed: 1 });
      const after = await api<{ enabled: boolean; saml: { certificates: Array<{ fingerprintSha256: string }> } }>(admin, 'GET', `/api/v1/sso/connections/${conn.id}`);
      expect(after.body.enabled).toBe(true);
      expect(after.body.saml.certificates.map((c) => c.fingerprintSha256)).toEqual([fingerprint(certs.b), fingerprint(certs.a)]);
      expect(await fetchedAt()).toBe(at(3).toISOString());
      const failedEvents = await events('sso.connection.metadata_refresh_failed');
      expect(failedEvents).toHaveLength(1);
      expect(failedEvents[0]!.outcome).toBe('failure');
    } finally {
      t.clock.set(new Date());
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sso.certificate.expiring: audited once per connection and certificate, from 30 days before it expires', async () => {
    const conn = await createConnection();
    const notAfter = Date.parse(conn.saml.certificates[0]!.notAfter as string);
    const warnings = async () => (await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('details').where('tenant_id', '=', admin.tenantId).where('action', '=', 'sso.certificate.expiring').where('target_id', '=', conn.id).execute())).length;
    try {
      t.clock.set(new Date(notAfter - 31 * 86_400_000));
      await t.app.services.ssoCertificates.pass();
      expect(await warnings()).toBe(0);
      t.clock.set(new Date(notAfter - 29 * 86_400_000));
      await t.app.services.ssoCertificates.pass();
      await t.app.services.ssoCertificates.pass();
      await t.app.services.ssoCertificates.pass();
      expect(await warnings()).toBe(1);
    } finally {
      t.clock.set(new Date());
    }
  });

  it('HTML form posts are accepted by the ACS only (elsewhere 415: no cross-site form CSRF)', async () => {
    const res = await fetch(`${t.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=a%40b.c&password=x' });
    expect(res.status).toBe(415);
  });
});
