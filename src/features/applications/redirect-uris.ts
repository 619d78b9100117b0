/**
 * The rules an application's redirect URIs, post-logout redirect URIs and allowed origins follow. The provider
 * compares redirect URIs by exact string match (RFC 6749 §3.1.2.3, OAuth 2.0 Security BCP RFC 9700 §2.1), so what
 * is stored here is what a request must repeat character for character.
 */
export type ApplicationType = 'spa' | 'web' | 'native' | 'machine';

const MAX_URI_LENGTH = 2000;

/** 127.0.0.1, [::1] and localhost: a browser or the operating system never routes them off the machine (RFC 8252 §7.3, RFC 6761 §6.3). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === '[::1]' || hostname === 'localhost';
}

// A DNS name (LDH labels, RFC 1123 §2.1) or an IP literal: no wildcard or other character a URL parser lets through.
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;

// RFC 8252 §7.1: a native app's private-use scheme is a reverse domain name it controls (`com.example.app`).
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9]*(\.[a-z0-9-]+)+:$/;

/** Why `raw` is refused as a redirect URI of an application of `type`, or null when it is acceptable. */
export function redirectUriProblem(raw: string, type: ApplicationType): string | null {
  if (raw.length > MAX_URI_LENGTH) return 'too long';
  if (/[\s\u0000-\u001f\u007f\\]/.test(raw)) return 'contains whitespace, control characters or a backslash';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not an absolute URL';
  }
  // RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment component.
  if (raw.includes('#')) return 'has a fragment';
  if (url.username || url.password) return 'carries credentials';
  if (url.protocol === 'https:') return HOST.test(url.hostname) ? null : 'needs a plain host name';
  // Loopback http: a native app's local listener (RFC 8252 §7.3) or a developer's machine.
  if (url.protocol === 'http:') return isLoopbackHost(url.hostname) ? null : 'http is allowed only on a loopback address';
  if (type === 'native' && PRIVATE_USE_SCHEME.test(url.protocol)) return null;
  return type === 'native' ? 'must be https, http on a loopback address, or a reverse-domain private-use scheme' : 'must be https';
}

/**
 * Why `raw` is refused as an API identifier (an RFC 8707 resource indicator, the `aud` of the JWT access tokens issued
 * for it), or null. RFC 8707 §2: an absolute URI without a fragment; here `https` with a plain host (no credentials,
 * no query) or a URN (`urn:example:api`). `urn:tessera:` is Tessera's own namespace (the default audience).
 */
export function resourceProblem(raw: string): string | null {
  if (raw.length > MAX_URI_LENGTH) return 'too long';
  if (/[\s\u0000-\u001f\u007f\\#]/.test(raw)) return 'contains whitespace, control characters, a backslash or a fragment';
  if (/^urn:/i.test(raw)) {
    if (/^urn:tessera:/i.test(raw)) return 'urn:tessera: is reserved';
    return /^urn:[a-z0-9][a-z0-9-]{0,31}:[^\s]+$/i.test(raw) ? null : 'not a URN (urn:<namespace>:<name>)';
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not an absolute URI';
  }
  if (url.protocol !== 'https:') return 'must be an https URL or a URN';
  if (url.username || url.password) return 'carries credentials';
  if (url.search) return 'has a query';
  return HOST.test(url.hostname) ? null : 'needs a plain host name';
}

/** Why `raw` is refused as an allowed origin (CORS, RFC 6454 §6.1 serialization), or null. */
export function originProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not an origin';
  }
  if (url.origin !== raw) return 'must be scheme://host[:port] with nothing after it';
  if (!HOST.test(url.hostname)) return 'needs a plain host name (no wildcard)';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  return 'must be https (http only on a loopback address)';
}
