import { X509Certificate } from 'node:crypto';
import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import { AppError } from '../../kernel/app-error.js';
import type { OutboundNetworkPolicy } from '../../net/outbound-network.js';
import { checkIssuerUrl, DISCOVERY_TIMEOUT_SECONDS, issuerFetch } from './oidc-discovery.js';
import { attr, child, children, NS, parseXmlStrict, XmlRefused } from './saml-xml.js';
import { SsoErrors } from './sso.errors.js';
import type { SamlSettingsInput } from './sso.schema.js';

/** SAML bindings URIs (saml-bindings §3.4, §3.5). */
export const BINDING_URI = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;
export const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;

/** Where a connection's SAML endpoints live under PUBLIC_URL (the SP entity ID is the metadata URL). */
export const SAML_METADATA_PATH = '/auth/sso/saml/:connectionId/metadata';
export const SAML_ACS_PATH = '/auth/sso/saml/acs/:connectionId';
/** Our SingleLogoutService (saml-metadata §2.4.2): the IdP's LogoutRequests arrive here. */
export const SAML_SLO_PATH = '/auth/sso/saml/slo/:connectionId';

export type EmailFrom = 'attribute_or_name_id' | 'attribute' | 'name_id';

/** A SAML connection's settings as stored in `config` (certificates are public: no secret here). */
export interface SamlConfig {
  readonly idpEntityId: string;
  readonly ssoUrl: string;
  readonly ssoBinding: 'redirect' | 'post';
  readonly sloUrl: string | null;
  /** Where the metadata was imported from (fetched again on refresh), or null. */
  readonly metadataUrl: string | null;
  readonly certificates: readonly string[];
  readonly allowSha1: boolean;
  readonly allowIdpInitiated: boolean;
  readonly clockSkewSeconds: number;
  readonly emailFrom: EmailFrom;
  /** Sign AuthnRequests with the connection's current SP key (saml-core §3.4.1; metadata AuthnRequestsSigned). */
  readonly signAuthnRequests?: boolean;
}

export interface CertificateInfo {
  readonly fingerprintSha256: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly subject: string;
}

const configError = (message: string) => new AppError(SsoErrors.sso_config, { message });

export function spEndpoints(publicUrl: string, connectionId: string) {
  const metadataUrl = `${publicUrl}${SAML_METADATA_PATH.replace(':connectionId', connectionId)}`;
  return { spEntityId: metadataUrl, acsUrl: `${publicUrl}${SAML_ACS_PATH.replace(':connectionId', connectionId)}`, metadataUrl };
}

/** A PEM certificate (or the bare base64 body metadata carries), parsed by node:crypto; refused when it is not one. */
export function parseCertificate(pemOrBase64: string, index: number): { pem: string; info: CertificateInfo } {
  const body = pemOrBase64.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(body)) throw configError(`Certificate ${index + 1} is not a PEM X.509 certificate.`);
  const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  try {
    const cert = new X509Certificate(pem);
    return { pem, info: { fingerprintSha256: cert.fingerprint256, notBefore: new Date(cert.validFrom).toISOString(), notAfter: new Date(cert.validTo).toISOString(), subject: cert.subject.replace(/\n/g, ', ') } };
  } catch {
    throw configError(`Certificate ${index + 1} is not a PEM X.509 certificate.`);
  }
}

export const certificateInfos = (config: SamlConfig): CertificateInfo[] => config.certificates.map((pem, i) => parseCertificate(pem, i).info);

/**
 * Reads an IdP's metadata (saml-metadata §2.4.3 IDPSSODescriptor): entityID, the SingleSignOnService (HTTP-Redirect
 * preferred, else HTTP-POST), the SingleLogoutService, and the signing certificates (KeyDescriptor use="signing"
 * or without use).
 */
export function parseIdpMetadata(xml: string): Partial<SamlConfig> {
  let doc;
  try {
    doc = parseXmlStrict(xml);
  } catch (err) {
    throw configError(`The IdP metadata cannot be read: ${(err as Error).message}`);
  }
  let entity = doc.documentElement!;
  if (entity.localName === 'EntitiesDescriptor' && entity.namespaceURI === NS.metadata) {
    const all = children(entity, NS.metadata, 'EntityDescriptor').filter((e) => child(e, NS.metadata, 'IDPSSODescriptor'));
    if (all.length !== 1) throw configError('The metadata must describe exactly one identity provider.');
    entity = all[0]!;
  }
  if (entity.localName !== 'EntityDescriptor' || entity.namespaceURI !== NS.metadata) throw configError('The metadata is not a SAML 2.0 EntityDescriptor.');
  const idp = child(entity, NS.metadata, 'IDPSSODescriptor');
  if (!idp) throw configError('The metadata has no IDPSSODescriptor.');
  const services = (name: string) => children(idp, NS.metadata, name).map((e) => ({ binding: attr(e, 'Binding') ?? '', location: attr(e, 'Location') ?? '' }));
  const sso = services('SingleSignOnService');
  const redirect = sso.find((s) => s.binding === BINDING_URI.redirect);
  const post = sso.find((s) => s.binding === BINDING_URI.post);
  const slo = services('SingleLogoutService').find((s) => s.binding === BINDING_URI.redirect) ?? services('SingleLogoutService').find((s) => s.binding === BINDING_URI.post);
  const certificates = children(idp, NS.metadata, 'KeyDescriptor')
    .filter((k) => (attr(k, 'use') ?? 'signing') === 'signing' || attr(k, 'use') === '')
    .flatMap((k) => children(child(child(k, NS.dsig, 'KeyInfo'), NS.dsig, 'X509Data'), NS.dsig, 'X509Certificate'))
    .map((c) => (c.textContent ?? '').replace(/\s+/g, ''))
    .filter((c, i, all) => c !== '' && all.indexOf(c) === i);
  const chosen = redirect ?? post;
  return {
    ...(attr(entity, 'entityID') ? { idpEntityId: attr(entity, 'entityID')! } : {}),
    ...(chosen ? { ssoUrl: chosen.location, ssoBinding: chosen === redirect ? 'redirect' : 'post' } : {}),
    ...(slo ? { sloUrl: slo.location } : {}),
    ...(certificates.length > 0 ? { certificates } : {}),
  };
}

/**
 * The stored settings from the input: the metadata import first, the explicit fields over it, then the previous
 * settings (an update) and the defaults. Entity ID, SSO URL and one or two valid certificates are required.
 */
export function resolveSamlConfig(input: SamlSettingsInput & { fetchedMetadataXml?: string }, previous: SamlConfig | null): SamlConfig {
  const imported = {
    ...(input.fetchedMetadataXml !== undefined ? parseIdpMetadata(input.fetchedMetadataXml) : {}),
    ...(input.metadataXml !== undefined ? parseIdpMetadata(input.metadataXml) : {}),
  };
  const { metadataXml: _m, fetchedMetadataXml: _f, ...explicit } = input;
  const given = Object.fromEntries(Object.entries(explicit).filter(([, v]) => v !== undefined)) as Partial<SamlConfig>;
  const merged = { ...previous, ...imported, ...given };
  if (!merged.idpEntityId) throw configError('The IdP entity ID is required (idpEntityId, or metadataXml).');
  if (!merged.ssoUrl) throw configError('The IdP SSO URL is required (ssoUrl, or metadataXml).');
  if (!/^https?:\/\//.test(merged.ssoUrl) || (merged.sloUrl && !/^https?:\/\//.test(merged.sloUrl))) throw configError('The IdP URLs must be http(s) URLs.');
  const certificates = merged.certificates ?? [];
  if (certificates.length < 1 || certificates.length > 2) throw configError('One or two IdP signing certificates are required (two while the IdP rotates).');
  return {
    idpEntityId: merged.idpEntityId,
    ssoUrl: merged.ssoUrl,
    ssoBinding: merged.ssoBinding ?? 'redirect',
    sloUrl: merged.sloUrl ?? null,
    metadataUrl: merged.metadataUrl ?? null,
    certificates: certificates.map((c, i) => parseCertificate(c, i).pem),
    allowSha1: merged.allowSha1 ?? false,
    allowIdpInitiated: merged.allowIdpInitiated ?? false,
    clockSkewSeconds: merged.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS,
    emailFrom: merged.emailFrom ?? 'attribute_or_name_id',
    signAuthnRequests: merged.signAuthnRequests ?? false,
  };
}

/** The IdP metadata document, at most this big. */
const MAX_METADATA_BYTES = 1024 * 1024;

/**
 * Fetches an IdP's metadata by URL under the same network rules as OIDC discovery (net/outbound-network.ts: https, no
 * private or loopback address unless the operator allows it, no redirects, 10-second timeouts), 1 MiB at most.
 * The document is trusted as configuration, as an uploaded one would be (saml-metadata §3: sign or pin it
 * out of band; https authenticates the IdP's host).
 */
export async function fetchIdpMetadata(url: string, policy: OutboundNetworkPolicy): Promise<string> {
  checkIssuerUrl(url.replace(/[?#].*$/, ''), policy);
  const { fetch, close } = issuerFetch(policy, null);
  try {
    const res = await fetch(url, { method: 'GET', headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' }, signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_SECONDS * 1000), body: undefined, redirect: 'manual' });
    if (res.status !== 200) throw configError(`The IdP metadata URL answered HTTP ${res.status} (redirects are not followed).`);
    const body = await res.arrayBuffer();
    if (body.byteLength > MAX_METADATA_BYTES) throw configError('The IdP metadata is larger than 1 MiB.');
    return Buffer.from(body).toString('utf8');
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw configError(`The IdP metadata could not be fetched: ${String((err as Error)?.message ?? err).slice(0, 200)}.`);
  } finally {
    await close();
  }
}

const certificateBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

/**
 * Our SP metadata (saml-metadata §2.4.4 SPSSODescriptor): entity ID, the HTTP-POST ACS, signed assertions wanted,
 * and each SP key's certificate twice, `use="signing"` and `use="encryption"` (§2.4.1.1): during a rotation both
 * keys are listed, the current first, so the IdP may encrypt to either and verify either.
 * `AuthnRequestsSigned` (§2.4.4) says whether our requests are signed.
 */
export function spMetadataXml(publicUrl: string, connectionId: string, sp: { certificates: readonly string[]; signAuthnRequests: boolean } = { certificates: [], signAuthnRequests: false }): string {
  const { spEntityId, acsUrl } = spEndpoints(publicUrl, connectionId);
  const logoutCallbackUrl = `${publicUrl}${SAML_SLO_PATH.replace(':connectionId', connectionId)}`;
  const base = generateServiceProviderMetadata({ issuer: spEntityId, callbackUrl: acsUrl, logoutCallbackUrl, wantAssertionsSigned: true, identifierFormat: NAMEID_EMAIL });
  const keyInfo = (pem: string) => `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`;
  const descriptors = [
    ...sp.certificates.map((pem) => `<KeyDescriptor use="signing">${keyInfo(pem)}</KeyDescriptor>`),
    // xmlenc11 / xmlenc algorithms node-saml (xml-encryption) can decrypt, strongest first.
    ...sp.certificates.map((pem) => `<KeyDescriptor use="encryption">${keyInfo(pem)}<EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/></KeyDescriptor>`),
  ].join('');
  // KeyDescriptor comes first in an SPSSODescriptor (saml-metadata §2.4.1 RoleDescriptorType sequence).
  return base
    .replace('AuthnRequestsSigned="false"', `AuthnRequestsSigned="${sp.signAuthnRequests}"`)
    .replace(/(<SPSSODescriptor [^>]*>)/, `$1${descriptors}`);
}

export { XmlRefused };
