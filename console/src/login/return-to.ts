/**
 * Where the sign-in page sends the browser afterwards: a path or URL of this origin only, never another site
 * (OWASP Unvalidated Redirects and Forwards Cheat Sheet). `//host`, a backslash (browsers read it as `/`), control
 * characters and another origin fall back to the console. An application on another origin signs its users in through
 * SSO's own `returnTo`, which the server checks against the tenant's allowed origins.
 */
export function safeReturnTo(raw: string | null, origin: string): string {
  const fallback = '/console';
  if (!raw || raw.startsWith('//') || /[\\\u0000-\u001f\u007f\s]/.test(raw)) return fallback;
  let url: URL;
  try {
    url = new URL(raw, origin);
  } catch {
    return fallback;
  }
  if (url.origin !== origin || !/^https?:$/.test(url.protocol)) return fallback;
  // The sign-in page itself is no destination (it would loop).
  if (url.pathname === '/login') return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
