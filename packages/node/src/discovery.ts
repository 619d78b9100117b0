import { TesseraError } from './errors.js';

/** What the SDK reads from the issuer's OpenID Provider metadata (OpenID Connect Discovery 1.0 §3). */
export interface ProviderMetadata {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly introspection_endpoint?: string;
  readonly end_session_endpoint?: string;
  readonly id_token_signing_alg_values_supported?: readonly string[];
}

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Strips one trailing slash: Tessera's issuer is `PUBLIC_URL` without it. */
export const normalizeIssuer = (issuer: string): string => issuer.replace(/\/$/, '');

/**
 * Fetches `<issuer>/.well-known/openid-configuration` once (a failure is retried on the next call, not cached) and
 * checks that the document names the very issuer it was fetched for (OpenID Connect Discovery §4.3), so a
 * misconfigured or hostile document cannot point the verifier at another issuer's keys.
 */
export function createDiscovery(issuer: string, fetchImpl: FetchLike = fetch): () => Promise<ProviderMetadata> {
  const expected = normalizeIssuer(issuer);
  let pending: Promise<ProviderMetadata> | undefined;
  const load = async (): Promise<ProviderMetadata> => {
    let response: Response;
    try {
      response = await fetchImpl(`${expected}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
    } catch (cause) {
      throw new TesseraError('discovery_failed', `The issuer's discovery document could not be fetched.`, { cause });
    }
    if (!response.ok) throw new TesseraError('discovery_failed', `The issuer's discovery document answered HTTP ${response.status}.`);
    const body = (await response.json().catch(() => undefined)) as Partial<ProviderMetadata> | undefined;
    if (!body || typeof body.jwks_uri !== 'string') throw new TesseraError('discovery_failed', 'The discovery document has no jwks_uri.');
    if (body.issuer !== expected) throw new TesseraError('discovery_failed', `The discovery document names issuer ${String(body.issuer)}, not ${expected}.`);
    return body as ProviderMetadata;
  };
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
