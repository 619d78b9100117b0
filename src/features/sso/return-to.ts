import { AppError } from '../../kernel/app-error.js';
import { SsoErrors } from './sso.errors.js';

/** Hosts where plain http is acceptable for a return origin: the developer's own machine (RFC 8252 §8.3 spirit). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * An origin a tenant's sign-ins may return to: `scheme://host[:port]` exactly (RFC 6454 §4), https, or http on
 * localhost only; no user info, path, query or fragment. Returns the serialised origin.
 */
export function checkAllowedOrigin(input: string): string {
  const refuse = (why: string) => new AppError(SsoErrors['sso.invalid_return_origin'], { message: `${JSON.stringify(input.slice(0, 200))}: ${why}` });
  const trimmed = input.trim();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw refuse('not a URL; give an origin such as https://app.example.com');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) throw refuse('must be https (http only for localhost)');
  if (url.username !== '' || url.password !== '') throw refuse('must not carry user info');
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(trimmed) || /^[a-z]+:\/\/[^/]*\/./i.test(trimmed)) {
    throw refuse('must be an origin only: scheme, host and port, without path, query or fragment');
  }
  return url.origin;
}

/**
 * The sign-in's return URL, or null when it may not be used (OWASP Unvalidated Redirects and Forwards cheat
 * sheet): relative to PUBLIC_URL or absolute, http(s) only, no user info, no backslash, no control character or
 * whitespace, no scheme-relative `//host`; its origin must be PUBLIC_URL's or one of the tenant's allowed origins.
 * The comparison is on the origin the WHATWG URL parser derives, so `https://good.example@evil.com` (host
 * evil.com) and `https://good.example.evil.com` (another host) never match `https://good.example`.
 */
export function acceptReturnTo(returnTo: string, publicUrl: string, allowedOrigins: readonly string[]): string | null {
  if (returnTo.includes('\\') || /[\u0000-\u0020\u007f]/.test(returnTo) || /^[/]{2}/.test(returnTo)) return null;
  let url: URL;
  try {
    url = new URL(returnTo, publicUrl);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.username !== '' || url.password !== '') return null;
  const origins = new Set([new URL(publicUrl).origin, ...allowedOrigins]);
  return origins.has(url.origin) ? url.href : null;
}
