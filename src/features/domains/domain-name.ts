import { domainToASCII } from 'node:url';

/**
 * A domain as Tessera stores and compares it: trimmed, without a trailing dot, lowercase A-labels (IDNA,
 * RFC 5891, through WHATWG URL's domain-to-ASCII), or undefined when it is not a registrable-looking host
 * name: at least two labels of letters, digits and inner hyphens (RFC 1123 §2.1), 63 octets a label, 253 in
 * all (RFC 1035 §2.3.4), a top-level label that is not all digits (so no IPv4 literal, RFC 3696 §2), and no
 * wildcard, port, path or IPv6 literal.
 */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function normaliseDomain(input: string): string | undefined {
  const trimmed = input.trim().replace(/\.$/, '');
  if (trimmed === '' || /[*:/\\@[\]\s]/.test(trimmed)) return undefined;
  const ascii = domainToASCII(trimmed.toLowerCase());
  if (ascii === '' || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  const tld = labels.at(-1)!;
  if (/^\d+$/.test(tld) || tld.length < 2) return undefined;
  return ascii;
}

/** The domain of an email address, normalised; undefined when the address has none that could be verified. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  return at < 0 ? undefined : normaliseDomain(email.slice(at + 1));
}

/** The DNS name the verification TXT record lives at. */
export function verificationRecordName(domain: string): string {
  return `_tessera-verification.${domain}`;
}

/** The verification TXT record's value. */
export function verificationRecordValue(token: string): string {
  return `tessera-verification=${token}`;
}
