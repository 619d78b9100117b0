import { generateKeyPairSync, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

/**
 * A SAML connection's SP key pair as stored in `saml_sp_keys` (migration 0021): the certificate is public, the
 * private key (PKCS#8 PEM) is encrypted with the tenant's data key and never leaves the server.
 */
export interface StoredSpKey {
  readonly id: string;
  readonly certificatePem: string;
  readonly createdAt: string;
  /** base64 of the keyring ciphertext (field `spKeyField(connectionId, id)`). */
  readonly privateKeyEnc: string;
}

/** A decrypted SP key, for signing AuthnRequests / LogoutRequests and decrypting assertions. */
export interface SpKey {
  readonly id: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

/** Keys a connection holds at most: the current one and the previous one while the IdP switches (overlap). */
export const MAX_SP_KEYS = 2;
/** RSA modulus (NIST SP 800-57 Part 1 Rev. 5 Table 2: 2048 bits is 112-bit security, acceptable through 2030). */
const RSA_BITS = 2048;
/** Validity of the self-signed certificate: IdPs pin it, so it outlives the usual rotation period. */
const CERTIFICATE_YEARS = 10;

/** The keyring field names the connection and the key: a ciphertext copied elsewhere fails to decrypt. */
export const spKeyField = (connectionId: string, keyId: string) => `sso.saml_sp_key/${connectionId}/${keyId}`;

export const spKeysOf = (row: { saml_sp_keys: unknown }): StoredSpKey[] => ((row.saml_sp_keys as { keys?: StoredSpKey[] } | null)?.keys ?? []);

/**
 * A self-signed X.509 certificate (SHA-256 with RSA) over a fresh RSA key pair (node:crypto; node-forge signs the
 * certificate: Node cannot mint X.509). The IdP trusts the certificate it was given, not a CA, so self-signed is the
 * norm for SAML keys (saml-metadata §2.4.1.1, XML Signature §4.4.4 X509Data).
 */
export function selfSignedCertificate(o: { commonName: string; notBefore: Date; notAfter: Date }): { certificatePem: string; privateKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets (the leading 0x01 keeps it positive).
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = o.notBefore;
  cert.validity.notAfter = o.notAfter;
  const name = [{ name: 'commonName', value: o.commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(cert), privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A connection's new SP key: a self-signed certificate valid for CERTIFICATE_YEARS from `now` (a minute of skew before). */
export function generateSpKey(connectionId: string, now: Date): { id: string; certificatePem: string; privateKeyPem: string } {
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(now.getUTCFullYear() + CERTIFICATE_YEARS);
  return { id: randomUUID(), ...selfSignedCertificate({ commonName: `Tessera SAML SP ${connectionId}`, notBefore: new Date(now.getTime() - 60_000), notAfter }) };
}

/** What the API shows of an SP key: its certificate (to give the IdP) and when it expires; never the private key. */
export function spKeyView(key: StoredSpKey, current: boolean) {
  const cert = new X509Certificate(key.certificatePem);
  return {
    id: key.id,
    current,
    certificatePem: key.certificatePem,
    fingerprintSha256: cert.fingerprint256,
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    createdAt: key.createdAt,
  };
}
