import { createRequire } from 'node:module';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import type { SignInCode } from './signin-core.js';
import type { SamlConfig } from './saml-config.js';
import { attr, child, children, NS, parseXmlStrict, textOnly, type XElement, XmlRefused } from './saml-xml.js';

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/**
 * XML Signature algorithms accepted (RFC 6931 §2.1.3, §2.3.2; XML Signature 1.1 §6): RSA with SHA-256/384/512 and
 * SHA-256/384/512 digests. SHA-1 (RFC 6194: collisions) only when the connection opts in, for legacy ADFS.
 */
const SIGNATURE_METHODS = ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512'];
const DIGEST_METHODS = ['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmldsig-more#sha384', 'http://www.w3.org/2001/04/xmlenc#sha512'];
const SHA1_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA1_DIGEST = 'http://www.w3.org/2000/09/xmldsig#sha1';

export class SamlRefused extends Error {
  constructor(
    readonly code: SignInCode,
    message: string,
  ) {
    super(message);
  }
}

const no = (code: SignInCode, message: string): never => {
  throw new SamlRefused(code, message);
};

export interface Expected {
  readonly spEntityId: string;
  readonly acsUrl: string;
  /** The AuthnRequest's ID this browser's transaction holds; null only for an IdP-initiated response. */
  readonly requestId: string | null;
  readonly now: Date;
  /** The SP private keys (PEM) that may decrypt an EncryptedAssertion, the current first; read only when one arrives. */
  readonly decryptionKeys: () => Promise<readonly string[]>;
}

/** The signed assertion's content, once every check passed. */
export interface VerifiedAssertion {
  readonly assertionId: string;
  /** Until when the assertion could be presented: its ID stays spent until then. */
  readonly validUntil: Date;
  readonly nameId: string;
  readonly nameIdFormat: string | null;
  readonly attributes: Record<string, string | string[]>;
  readonly authnContextClassRef: string | null;
  readonly sessionIndex: string | null;
}

function* elements(root: XElement): Generator<XElement> {
  for (let n = root.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 1) continue;
    yield n as XElement;
    yield* elements(n as XElement);
  }
}

/** A SigAlg of the HTTP-Redirect binding (saml-bindings §3.4.4.1) we accept: RSA-SHA-2, RSA-SHA1 only when allowed. */
export const acceptedSignatureAlgorithm = (alg: string, allowSha1: boolean): boolean => SIGNATURE_METHODS.includes(alg) || (allowSha1 && alg === SHA1_SIGNATURE);

/**
 * Every signature and digest algorithm of an XML signature in the document must be on the list (SHA-1 only when
 * allowed): `SignatureMethod` in a `SignedInfo`, `DigestMethod` in a `Reference` (XML Signature §4.4). A
 * `DigestMethod` inside an xenc `EncryptionMethod` is RSA-OAEP's hash (XML Encryption §5.5.2, SHA-1 by default
 * for rsa-oaep-mgf1p), which needs no collision resistance and is not a signature's.
 */
export function checkAlgorithms(root: XElement, allowSha1: boolean): void {
  for (const e of elements(root)) {
    if (e.namespaceURI !== NS.dsig || (e.localName !== 'SignatureMethod' && e.localName !== 'DigestMethod')) continue;
    const parent = e.parentNode as XElement | null;
    if (parent?.namespaceURI !== NS.dsig || parent.localName !== (e.localName === 'SignatureMethod' ? 'SignedInfo' : 'Reference')) continue;
    const alg = attr(e, 'Algorithm') ?? '';
    const allowed = e.localName === 'SignatureMethod' ? [...SIGNATURE_METHODS, ...(allowSha1 ? [SHA1_SIGNATURE] : [])] : [...DIGEST_METHODS, ...(allowSha1 ? [SHA1_DIGEST] : [])];
    if (!allowed.includes(alg)) no('sso_signature', alg === SHA1_SIGNATURE || alg === SHA1_DIGEST ? 'The response is signed with SHA-1, which this connection does not accept (allowSha1).' : `The signature algorithm ${alg.slice(0, 100)} is not accepted.`);
  }
}

/**
 * XML decryption (XML Encryption 1.1) by xml-encryption, the library node-saml itself uses: RSA-OAEP key transport,
 * AES-CBC/GCM content. RSA PKCS#1 v1.5 key transport (XML Encryption 1.1 §5.4.1, Bleichenbacher-style oracles) and
 * Triple DES (NIST SP 800-131A) are refused: the library accepts both unless told not to.
 */
type DecryptOptions = { key: string; disallowDecryptionWithInsecureAlgorithm: true; warnInsecureAlgorithm: false };
const xmlenc = createRequire(import.meta.url)('xml-encryption') as { decrypt: (xml: string, options: DecryptOptions, done: (err: Error | null, result?: string) => void) => void };
const decryptXml = (xml: string, key: string): Promise<string> =>
  new Promise((resolve, reject) =>
    xmlenc.decrypt(xml, { key, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false }, (err, result) =>
      err || result === undefined ? reject(err ?? new Error('XML decryption gave nothing.')) : resolve(result),
    ),
  );

/** node-saml's refusals, as sign-in codes. */
function fromNodeSaml(err: unknown): SamlRefused {
  const message = (err as Error)?.message ?? String(err);
  if (/not yet valid|expired/i.test(message)) return new SamlRefused('sso_expired', message);
  if (/audience/i.test(message)) return new SamlRefused('sso_audience', message);
  return new SamlRefused('sso_signature', message);
}

const time = (e: XElement, name: string): number | null => {
  const v = attr(e, name);
  if (v === null) return null;
  const t = Date.parse(v);
  if (Number.isNaN(t)) no('sso_expired', `${name} is not a time.`);
  return t;
};

/**
 * A SAML Response (HTTP-POST binding) checked before any of its content is used. node-saml verifies the XML
 * signature against the connection's certificates only (never a KeyInfo the document carries) and hands back the
 * signed node only; we add what it does not check (measured on node-saml 5.1), per saml-core §3.2.2 and
 * saml-profiles §4.1.4.2-3: no DOCTYPE, accepted algorithms only, exactly one assertion, top-level `Status`
 * Success, `Destination` our ACS URL, the assertion's `Issuer` the IdP's entity ID, a bearer
 * `SubjectConfirmationData` whose `Recipient` is our ACS URL, `InResponseTo` our request, times with the skew,
 * and an `Audience` of ours in every `AudienceRestriction`. Everything is read from the signed assertion.
 */
export async function verifySamlResponse(samlResponse: string, config: SamlConfig, expected: Expected): Promise<VerifiedAssertion> {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(samlResponse)) no('sso_signature', 'SAMLResponse is not base64.');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  let doc;
  try {
    doc = parseXmlStrict(xml);
  } catch (err) {
    return no('sso_signature', (err as Error).message);
  }
  const response = doc.documentElement!;
  if (response.localName !== 'Response' || response.namespaceURI !== NS.protocol) no('sso_signature', 'The message is not a SAML Response.');
  checkAlgorithms(response, config.allowSha1);

  // saml-core §3.2.2.2: a top-level status other than Success is a failure, whatever assertion rides along.
  const status = attr(child(child(response, NS.protocol, 'Status'), NS.protocol, 'StatusCode'), 'Value');
  if (status !== SUCCESS) no('sso_config', `The IdP answered status ${(status ?? 'none').slice(0, 200)}.`);
  // Exactly one assertion, plain or encrypted (saml-core §2.3.4), a direct child of the Response (XML signature
  // wrapping hides extra ones elsewhere).
  const encrypted = children(response, NS.assertion, 'EncryptedAssertion').length;
  if (children(response, NS.assertion, 'Assertion').length + encrypted !== 1) no('sso_signature', 'The response must carry exactly one assertion.');
  // saml-bindings §3.5.5.2: Destination, when present (required when the Response is signed), is our ACS URL.
  const destination = attr(response, 'Destination');
  if (destination !== null ? destination !== expected.acsUrl : child(response, NS.dsig, 'Signature') !== undefined) no('sso_audience', 'The response\'s Destination is not this connection\'s ACS URL.');
  const responseIssuer = child(response, NS.assertion, 'Issuer');
  if (responseIssuer && textOnly(responseIssuer) !== config.idpEntityId) no('sso_signature', 'The response\'s Issuer is not the connection\'s IdP entity ID.');
  const responseInResponseTo = attr(response, 'InResponseTo');
  if (expected.requestId !== null && responseInResponseTo !== null && responseInResponseTo !== expected.requestId) no('sso_state', 'The response answers another request than this browser\'s.');
  if (expected.requestId === null && responseInResponseTo !== null) no('sso_state', 'The response answers a request, but no sign-in is under way in this browser.');

  const samlWith = (decryptionPvk: string | null) => new SAML({
    callbackUrl: expected.acsUrl,
    issuer: expected.spEntityId,
    audience: expected.spEntityId,
    idpCert: [...config.certificates],
    // A signed Response covering the assertion, or a signed assertion: node-saml requires one of them.
    wantAssertionsSigned: false,
    wantAuthnResponseSigned: false,
    // InResponseTo is ours to check: against this browser's transaction, not a server-wide cache.
    validateInResponseTo: ValidateInResponseTo.never,
    acceptedClockSkewMs: config.clockSkewSeconds * 1000,
    // saml-core §6.2: an EncryptedAssertion is decrypted with our SP key; node-saml then verifies the signature of
    // the decrypted assertion (or the Response's, which covers the ciphertext).
    ...(decryptionPvk !== null ? { decryptionPvk } : {}),
  });
  const validate = async (decryptionPvk: string | null): Promise<string> => {
    const { profile } = await samlWith(decryptionPvk).validatePostResponseAsync({ SAMLResponse: samlResponse });
    if (!profile) return no('sso_signature', 'The response carries no assertion.');
    return profile.getAssertionXml!();
  };
  let decryptionPvk: string | null = null;
  if (encrypted === 1) {
    // During an SP key rotation the IdP may encrypt to either key: the current first, then the previous.
    const keys = await expected.decryptionKeys();
    if (keys.length === 0) no('sso_config', 'The assertion is encrypted, but the connection has no SP key to decrypt it (POST …/sp-keys/rotate).');
    const encryptedXml = (child(response, NS.assertion, 'EncryptedAssertion') as unknown as { toString(): string }).toString();
    let plaintext: string | undefined;
    for (const key of keys) {
      try {
        plaintext = await decryptXml(encryptedXml, key);
        decryptionPvk = key;
        break;
      } catch {
        // Not encrypted to this key: the next one.
      }
    }
    if (plaintext === undefined) return no('sso_config', 'The assertion is encrypted for a key that is not one of this connection\'s SP keys (give the IdP the certificate of saml.spKeys).');
    // The decrypted assertion gets the document's checks: no DOCTYPE, and its own signature's algorithms, which the
    // ciphertext hid from the first check (RFC 6194: no SHA-1 unless the connection opts in).
    try {
      checkAlgorithms(parseXmlStrict(plaintext).documentElement!, config.allowSha1);
    } catch (err) {
      if (err instanceof XmlRefused) return no('sso_signature', `The decrypted assertion: ${err.message}`);
      throw err;
    }
  }
  let signedXml: string;
  try {
    signedXml = await validate(decryptionPvk);
  } catch (err) {
    throw fromNodeSaml(err);
  }

  // From here, only the signed node (node-saml's verified output) is read.
  let assertion: XElement;
  try {
    assertion = parseXmlStrict(signedXml).documentElement!;
  } catch (err) {
    return no('sso_signature', (err as Error).message);
  }
  if (assertion.localName !== 'Assertion' || assertion.namespaceURI !== NS.assertion) no('sso_signature', 'The signed node is not an assertion.');
  try {
    return readAssertion(assertion, config, expected);
  } catch (err) {
    if (err instanceof XmlRefused) return no('sso_signature', err.message);
    throw err;
  }
}

function readAssertion(assertion: XElement, config: SamlConfig, expected: Expected): VerifiedAssertion {
  const now = expected.now.getTime();
  const skew = config.clockSkewSeconds * 1000;
  const issuer = child(assertion, NS.assertion, 'Issuer');
  // saml-profiles §4.1.4.2: the assertion's Issuer is the IdP.
  if (!issuer || textOnly(issuer) !== config.idpEntityId) no('sso_signature', 'The assertion\'s Issuer is not the connection\'s IdP entity ID.');
  const assertionId = attr(assertion, 'ID');
  if (!assertionId) return no('sso_signature', 'The assertion has no ID.');

  const conditions = children(assertion, NS.assertion, 'Conditions');
  if (conditions.length !== 1) no('sso_audience', 'The assertion must carry one Conditions element.');
  const cond = conditions[0]!;
  const notBefore = time(cond, 'NotBefore');
  const notOnOrAfter = time(cond, 'NotOnOrAfter');
  if (notBefore !== null && now + skew < notBefore) no('sso_expired', 'The assertion is not yet valid (NotBefore).');
  if (notOnOrAfter === null) no('sso_expired', 'The assertion has no NotOnOrAfter.');
  if (now - skew >= notOnOrAfter!) no('sso_expired', 'The assertion expired (NotOnOrAfter).');
  // saml-core §2.5.1.4: every AudienceRestriction must name us.
  const restrictions = children(cond, NS.assertion, 'AudienceRestriction');
  if (restrictions.length === 0 || !restrictions.every((r) => children(r, NS.assertion, 'Audience').some((a) => textOnly(a) === expected.spEntityId))) no('sso_audience', 'The assertion\'s Audience is not this connection\'s SP entity ID.');

  const subject = child(assertion, NS.assertion, 'Subject');
  const nameIdElement = child(subject, NS.assertion, 'NameID');
  if (!nameIdElement) return no('sso_config', 'The assertion has no NameID.');
  const nameId = textOnly(nameIdElement);
  if (nameId === '' || nameId.length > 500) no('sso_config', 'The NameID is empty or too long.');

  // saml-profiles §4.1.4.2-3: a bearer confirmation whose data names our ACS, our request, and a live window.
  const confirmations = children(subject, NS.assertion, 'SubjectConfirmation').filter((c) => attr(c, 'Method') === BEARER);
  if (confirmations.length === 0) no('sso_audience', 'The assertion has no bearer SubjectConfirmation.');
  let firstProblem: SamlRefused | null = null;
  let confirmedUntil: number | null = null;
  for (const confirmation of confirmations) {
    try {
      const data = child(confirmation, NS.assertion, 'SubjectConfirmationData');
      if (!data) return no('sso_audience', 'The SubjectConfirmation has no SubjectConfirmationData.');
      if (attr(data, 'Recipient') !== expected.acsUrl) no('sso_audience', 'The SubjectConfirmationData\'s Recipient is not this connection\'s ACS URL.');
      const until = time(data, 'NotOnOrAfter');
      const from = time(data, 'NotBefore');
      if (until === null || now - skew >= until) no('sso_expired', 'The SubjectConfirmationData expired (NotOnOrAfter).');
      if (from !== null && now + skew < from) no('sso_expired', 'The SubjectConfirmationData is not yet valid (NotBefore).');
      const inResponseTo = attr(data, 'InResponseTo');
      if (expected.requestId !== null && inResponseTo !== expected.requestId) no('sso_state', 'The assertion answers another request than this browser\'s (InResponseTo).');
      if (expected.requestId === null && inResponseTo !== null) no('sso_state', 'The assertion answers a request, but no sign-in is under way in this browser.');
      confirmedUntil = until;
      break;
    } catch (err) {
      if (!(err instanceof SamlRefused)) throw err;
      firstProblem ??= err;
    }
  }
  if (confirmedUntil === null) throw firstProblem!;

  const attributes: Record<string, string | string[]> = {};
  for (const statement of children(assertion, NS.assertion, 'AttributeStatement')) {
    for (const attribute of children(statement, NS.assertion, 'Attribute')) {
      const name = attr(attribute, 'Name');
      if (!name || name.length > 200 || name === '__proto__') continue;
      const values = children(attribute, NS.assertion, 'AttributeValue').slice(0, 200).map((v) => textOnly(v).slice(0, 1000));
      if (values.length === 0) continue;
      attributes[name] = values.length === 1 ? values[0]! : values;
    }
  }
  const authn = child(assertion, NS.assertion, 'AuthnStatement');
  const classRef = child(child(authn, NS.assertion, 'AuthnContext'), NS.assertion, 'AuthnContextClassRef');
  return {
    assertionId,
    validUntil: new Date(Math.max(notOnOrAfter!, confirmedUntil) + skew),
    nameId,
    nameIdFormat: attr(nameIdElement, 'Format'),
    attributes,
    authnContextClassRef: classRef ? textOnly(classRef) : null,
    sessionIndex: attr(authn, 'SessionIndex') ?? null,
  };
}
