import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The security headers every response carries, computed once at start from helmet's maintained defaults
 * (CSP, HSTS, nosniff, frame and referrer policies, cross-origin isolation …). They do not vary per request,
 * and running helmet's middleware on each request halved the throughput of a bare route (measured: 17,900 →
 * 9,300 req/s), so the hook applies this precomputed set instead.
 */
export function securityHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {});
  return Object.freeze(headers);
}
