import { createHash } from 'node:crypto';
import { createDiscovery, type FetchLike, normalizeIssuer } from './discovery.js';
import { TesseraError } from './errors.js';

/** An RFC 7662 §2.2 answer (Tessera adds `permissions`, `acc` and `sid` for active tokens). */
export interface IntrospectionResult {
  readonly active: boolean;
  readonly sub?: string;
  readonly client_id?: string;
  readonly scope?: string;
  readonly exp?: number;
  readonly acc?: string;
  readonly sid?: string;
  readonly permissions?: readonly string[];
  readonly [claim: string]: unknown;
}

export interface IntrospectionOptions {
  readonly issuer: string;
  /** A confidential application (type `web` or `machine`) of the same account as the tokens it introspects. */
  readonly clientId: string;
  readonly clientSecret: string;
  /**
   * How long an answer is reused for the same token (ms). **Default 0: every request asks Tessera**, so a logout, a
   * deactivation or a role change is refused on the very next request. A cache (at most 60 s) trades that delay for
   * fewer round trips: a revoked token keeps working for up to this long. An answer is never kept past the token's `exp`.
   */
  readonly cacheTtlMs?: number;
  /** At most this many answers are cached (default 10,000; the oldest go first). */
  readonly cacheMaxEntries?: number;
  readonly fetch?: FetchLike;
}

export interface Introspector {
  introspect(token: string): Promise<IntrospectionResult>;
}

/** RFC 6749 §2.3.1: the client id and secret are form-urlencoded before they are put in the Basic credentials. */
const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

export function createIntrospector(options: IntrospectionOptions): Introspector {
  const ttl = options.cacheTtlMs ?? 0;
  if (!(ttl >= 0 && ttl <= 60_000)) throw new TesseraError('configuration_invalid', 'cacheTtlMs must be between 0 and 60000.');
  const max = options.cacheMaxEntries ?? 10_000;
  const fetchImpl = options.fetch ?? fetch;
  const metadata = createDiscovery(normalizeIssuer(options.issuer), fetchImpl);
  const basic = Buffer.from(`${formEncode(options.clientId)}:${formEncode(options.clientSecret)}`).toString('base64');
  // Keyed by the token's hash: the cache never holds a bearer token itself.
  const cache = new Map<string, { result: IntrospectionResult; until: number }>();

  return {
    async introspect(token) {
      const key = ttl > 0 ? createHash('sha256').update(token).digest('base64url') : '';
      if (ttl > 0) {
        const hit = cache.get(key);
        if (hit && hit.until > Date.now()) return hit.result;
        if (hit) cache.delete(key);
      }
      const { introspection_endpoint: endpoint } = await metadata();
      if (!endpoint) throw new TesseraError('introspection_failed', 'The issuer publishes no introspection endpoint.');
      let response: Response;
      try {
        response = await fetchImpl(endpoint, {
          method: 'POST',
          headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        });
      } catch (cause) {
        throw new TesseraError('introspection_failed', 'The introspection endpoint could not be reached.', { cause });
      }
      if (!response.ok) throw new TesseraError('introspection_failed', `The introspection endpoint answered HTTP ${response.status} (check the client id and secret).`);
      const result = (await response.json().catch(() => undefined)) as IntrospectionResult | undefined;
      if (!result || typeof result.active !== 'boolean') throw new TesseraError('introspection_failed', 'The introspection answer has no boolean `active`.');
      if (ttl > 0) {
        const until = Math.min(Date.now() + ttl, typeof result.exp === 'number' ? result.exp * 1000 : Infinity);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(key, { result, until });
      }
      return result;
    },
  };
}
