import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import * as samlify from 'samlify';
import { validateXML } from 'xmllint-wasm';

const FIXTURES = new URL('../fixtures/saml/', import.meta.url);
export const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
export const certs = { a: fixture('idp-a.crt'), b: fixture('idp-b.crt'), attacker: fixture('attacker.crt') };
const keys = { a: fixture('idp-a.key'), b: fixture('idp-b.key'), attacker: fixture('attacker.key') };
export type Signer = keyof typeof keys;

const XSD_NOTE = 'xmllint-wasm checks the Response is well-formed XML before samlify signs it';
// samlify refuses to run without a schema validator: xmllint-wasm (libxml2, no Java) parses and canonicalizes each
// message, so a malformed one fails here. The SAML XSDs are not in the dependency tree, so no schema is loaded;
// the SP (node-saml + our checks) is what the tests exercise.
samlify.setSchemaValidator({
  validate: async (xml: string) => {
    const result = await validateXML({ xml: [{ fileName: 'message.xml', contents: xml }], normalization: 'c14n' });
    if (!result.valid) throw new Error(`${XSD_NOTE}: ${result.errors.map((e) => e.rawMessage).join('; ')}`);
    return 'ok';
  },
});

export const IDP_ENTITY_ID = 'https://idp.saml.test/metadata';
export const IDP_SSO_URL = 'https://idp.saml.test/sso';
const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

/** The IdP's metadata XML, as an admin would download it from the IdP (for the import). */
export function idpMetadata(certificates: readonly string[] = [certs.a]): string {
  const body = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const keyDescriptors = certificates.map((c) => `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body(c)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`).join('');
  return `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${keyDescriptors}<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.saml.test/slo"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${IDP_SSO_URL}/post"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${IDP_SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>`;
}

/** The AuthnRequest the SP sent by HTTP-Redirect (saml-bindings §3.4.4.1: DEFLATE, base64, URL-encoded). */
export function readAuthnRequest(location: string): { id: string; acsUrl: string | null; issuer: string | null; destination: string | null } {
  const deflated = new URL(location).searchParams.get('SAMLRequest');
  if (!deflated) throw new Error(`no SAMLRequest in ${location}`);
  const xml = inflateRawSync(Buffer.from(deflated, 'base64')).toString('utf8');
  const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
  const issuer = root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0];
  return { id: root.getAttribute('ID')!, acsUrl: root.getAttribute('AssertionConsumerServiceURL'), issuer: issuer?.textContent ?? null, destination: root.getAttribute('Destination') };
}

export interface ResponseOptions {
  readonly acsUrl: string;
  readonly spEntityId: string;
  readonly requestId: string | null;
  readonly nameId: string;
  readonly nameIdFormat?: string;
  readonly attributes?: Readonly<Record<string, string | readonly string[]>>;
  readonly authnContextClassRef?: string;
  /** Overrides of what a correct IdP would put. */
  readonly destination?: string;
  readonly recipient?: string;
  readonly audience?: string;
  readonly issuer?: string;
  readonly status?: string;
  readonly notBefore?: Date;
  readonly notOnOrAfter?: Date;
  /** Only the assertion's Issuer (the Response's stays right). */
  readonly assertionIssuer?: string;
  /** Only the Response's / only the SubjectConfirmationData's InResponseTo. */
  readonly responseInResponseTo?: string;
  readonly subjectInResponseTo?: string;
  /** Only the SubjectConfirmationData's NotOnOrAfter (the Conditions' stays right). */
  readonly subjectNotOnOrAfter?: Date;
  readonly now?: Date;
  /** Which key signs (default the IdP's `a`), and what: the assertion (default), the whole response, or both. */
  readonly signer?: Signer;
  readonly sign?: 'assertion' | 'response' | 'both';
  readonly sha1?: boolean;
  /** Encrypt the (signed) assertion to this certificate (PEM): the SP's encryption certificate. */
  readonly encryptFor?: string;
  /** Legacy encryption an attack test needs: RSA PKCS#1 v1.5 key transport, or Triple DES content encryption. */
  readonly legacyEncryption?: 'rsa-1_5' | 'tripledes';
}

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A real signed SAML Response from samlify's IdentityProvider (the test IdP): samlify fills its login response
 * template and signs with xml-crypto; the options make it the wrong answer an attack test needs.
 */
export async function signedResponse(o: ResponseOptions): Promise<string> {
  const signer = o.signer ?? 'a';
  const sign = o.sign ?? 'assertion';
  const idp = samlify.IdentityProvider({
    entityID: IDP_ENTITY_ID,
    privateKey: keys[signer],
    signingCert: certs[signer],
    isAssertionEncrypted: o.encryptFor !== undefined,
    ...(o.legacyEncryption === 'rsa-1_5' ? { keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-1_5' } : {}),
    ...(o.legacyEncryption === 'tripledes' ? { dataEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#tripledes-cbc' } : {}),
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: IDP_SSO_URL }],
    wantAuthnRequestsSigned: false,
    ...(o.sha1 ? { requestSignatureAlgorithm: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' } : {}),
  });
  const sp = samlify.ServiceProvider({
    entityID: o.spEntityId,
    assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: o.acsUrl }],
    wantAssertionsSigned: sign !== 'response',
    wantMessageSigned: sign !== 'assertion',
    ...(o.encryptFor !== undefined ? { encryptCert: o.encryptFor, isAssertionEncrypted: true } : {}),
  });
  const now = o.now ?? new Date();
  const notBefore = o.notBefore ?? new Date(now.getTime() - 30_000);
  const later = o.notOnOrAfter ?? new Date(now.getTime() + 300_000);
  const attributes = Object.entries(o.attributes ?? {})
    .map(([name, value]) => `<saml:Attribute Name="${esc(name)}">${(Array.isArray(value) ? value : [value]).map((v: string) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
    .join('');
  const id = `_r${Math.random().toString(16).slice(2)}${Date.now()}`;
  const res = await idp.createLoginResponse(sp, { extract: { request: { id: o.requestId ?? '' } } }, 'post', { email: o.nameId }, (template: string) => {
    // samlify escapes the values it puts in: the two XML fragments go in before it.
    const authn = `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="_s${id}"><saml:AuthnContext><saml:AuthnContextClassRef>${esc(o.authnContextClassRef ?? PASSWORD)}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
    let withFragments = template;
    // The Response's Issuer comes first in samlify's template, the assertion's second.
    if (o.assertionIssuer !== undefined) withFragments = withFragments.replace(/(<saml:Assertion[\s\S]*?<saml:Issuer>)\{Issuer\}/, `$1${esc(o.assertionIssuer)}`);
    // The Response's InResponseTo ends its start tag (`">`), the SubjectConfirmationData's an empty element (`"/>`).
    if (o.responseInResponseTo !== undefined) withFragments = withFragments.replace('InResponseTo="{InResponseTo}">', `InResponseTo="${esc(o.responseInResponseTo)}">`);
    if (o.subjectInResponseTo !== undefined) withFragments = withFragments.replace('InResponseTo="{InResponseTo}"/>', `InResponseTo="${esc(o.subjectInResponseTo)}"/>`);
    withFragments = withFragments.replace('{AuthnStatement}', authn).replace('{AttributeStatement}', attributes === '' ? '' : `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`);
    let context = samlify.default.SamlLib.replaceTagsByValue(withFragments, {
      ID: id,
      AssertionID: `_a${id}`,
      Destination: o.destination ?? o.acsUrl,
      Audience: o.audience ?? o.spEntityId,
      EntityID: o.spEntityId,
      SubjectRecipient: o.recipient ?? o.acsUrl,
      Issuer: o.issuer ?? IDP_ENTITY_ID,
      IssueInstant: now.toISOString(),
      StatusCode: o.status ?? SUCCESS,
      ConditionsNotBefore: notBefore.toISOString(),
      ConditionsNotOnOrAfter: later.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: (o.subjectNotOnOrAfter ?? later).toISOString(),
      AssertionConsumerServiceURL: o.acsUrl,
      InResponseTo: o.requestId ?? '',
      NameIDFormat: o.nameIdFormat ?? NAMEID_EMAIL,
      NameID: o.nameId,
    });
    // IdP-initiated: no InResponseTo at all.
    if (o.requestId === null) context = context.replace(/ InResponseTo=""/g, '');
    return { id, context };
  });
  return res.context;
}

/**
 * The samlify IdP configured with `wantAuthnRequestsSigned: true` reads the AuthnRequest the SP sent by
 * HTTP-Redirect and verifies its query-string signature (saml-bindings §3.4.4.1) with the SP's signing certificate,
 * taken from the SP metadata XML or given as a PEM. Rejects (samlify's error) when unsigned or wrongly signed.
 */
export async function idpVerifiesAuthnRequest(location: string, sp: { metadata: string } | { signingCert: string; entityID: string; acsUrl: string }): Promise<{ id: string; sigAlg: string | null }> {
  const idp = samlify.IdentityProvider({
    entityID: IDP_ENTITY_ID,
    privateKey: keys.a,
    signingCert: certs.a,
    wantAuthnRequestsSigned: true,
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: IDP_SSO_URL }],
  });
  const serviceProvider = 'metadata' in sp
    ? samlify.ServiceProvider({ metadata: sp.metadata })
    : samlify.ServiceProvider({ entityID: sp.entityID, signingCert: sp.signingCert, authnRequestsSigned: true, assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: sp.acsUrl }] });
  const raw = location.slice(location.indexOf('?') + 1);
  // The signed octet string: the query's parameters as sent, in order, without Signature (§3.4.4.1).
  const octetString = raw.split('&').filter((p) => !p.startsWith('Signature=')).join('&');
  const query = Object.fromEntries(new URL(location).searchParams);
  const parsed = await idp.parseLoginRequest(serviceProvider, 'redirect', { query, octetString });
  return { id: (parsed.extract as { request?: { id?: string } }).request?.id ?? '', sigAlg: parsed.sigAlg ?? null };
}

/** The `<KeyDescriptor>` certificates of an SP metadata XML, by use. */
export function spMetadataCertificates(xml: string): { signing: string[]; encryption: string[] } {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const out = { signing: [] as string[], encryption: [] as string[] };
  const descriptors = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:metadata', 'KeyDescriptor');
  for (let i = 0; i < descriptors.length; i++) {
    const d = descriptors[i]!;
    const cert = d.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'X509Certificate')[0]?.textContent ?? '';
    const use = d.getAttribute('use');
    if (use === 'signing' || use === 'encryption') out[use].push(cert.replace(/\s+/g, ''));
  }
  return out;
}
export const pemBody = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

/**
 * The IdP's LogoutRequest for a NameID (saml-profiles §4.4.3.2), as samlify sends it by HTTP-Redirect to the SP's
 * SLO URL: the URL the browser is sent to, signed by `signer` unless `signed` is false.
 */
export function idpLogoutRequestUrl(o: { sloUrl: string; spEntityId: string; nameId: string; sessionIndex?: string; signer?: Signer; signed?: boolean; sha1?: boolean }): string {
  const signer = o.signer ?? 'a';
  const idp = samlify.IdentityProvider({
    entityID: IDP_ENTITY_ID,
    privateKey: keys[signer],
    signingCert: certs[signer],
    nameIDFormat: [NAMEID_EMAIL],
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: IDP_SSO_URL }],
    singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: 'https://idp.saml.test/slo' }],
    requestSignatureAlgorithm: o.sha1 ? 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' : 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  });
  const sp = samlify.ServiceProvider({
    entityID: o.spEntityId,
    wantLogoutRequestSigned: o.signed !== false,
    singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: o.sloUrl }],
  });
  return idp.createLogoutRequest(sp, 'redirect', { logoutNameID: o.nameId, sessionIndex: o.sessionIndex ?? '' }, 'relay-1').context;
}

/**
 * The samlify IdP at its SLO URL (saml-profiles §4.4.3): reads the SP's LogoutRequest sent by HTTP-Redirect,
 * verifies its query-string signature (saml-bindings §3.4.4.1) with the signing certificate of the SP metadata, and
 * answers with a signed LogoutResponse to the SP's SingleLogoutService by the binding the metadata names (Tessera's:
 * HTTP-POST, saml-bindings §3.5): the form the browser posts. Rejects (samlify's error) when the request is unsigned
 * or wrongly signed.
 */
export async function idpAnswersLogoutRequest(location: string, spMetadata: string): Promise<{ nameId: string; sessionIndex: string | null; form: { action: string; fields: Record<string, string> } }> {
  const idp = samlify.IdentityProvider({
    entityID: IDP_ENTITY_ID,
    privateKey: keys.a,
    signingCert: certs.a,
    wantLogoutRequestSigned: true,
    nameIDFormat: [NAMEID_EMAIL],
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: IDP_SSO_URL }],
    singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: 'https://idp.saml.test/slo' }],
  });
  const sp = samlify.ServiceProvider({ metadata: spMetadata });
  const raw = location.slice(location.indexOf('?') + 1);
  const octetString = raw.split('&').filter((p) => !p.startsWith('Signature=')).join('&');
  const query = Object.fromEntries(new URL(location).searchParams);
  const parsed = await idp.parseLogoutRequest(sp, 'redirect', { query, octetString });
  const extract = parsed.extract as { nameID?: string; sessionIndex?: string | null };
  const answer = idp.createLogoutResponse(sp, { ...parsed }, 'post', query.RelayState ?? '') as { context: string; entityEndpoint: string; relayState?: string };
  const fields: Record<string, string> = { SAMLResponse: answer.context, ...(answer.relayState ? { RelayState: answer.relayState } : {}) };
  return { nameId: extract.nameID ?? '', sessionIndex: extract.sessionIndex ?? null, form: { action: answer.entityEndpoint, fields } };
}
