import { X509Certificate } from 'node:crypto';
import * as client from 'openid-client';
import { AppError } from '../../kernel/app-error.js';
import { AddressRefused, addressRefusal, guardedFetch, isLoopbackHost, type OutboundNetworkPolicy, type OutboundSettingNames } from '../../net/outbound-network.js';
import { SsoErrors } from './sso.errors.js';

/** Seconds a discovery request may take in all (connect, headers, body). */
export const DISCOVERY_TIMEOUT_SECONDS = 10;

const configError = (message: string, detail?: Record<string, unknown>) => new AppError(SsoErrors.sso_config, { message, ...(detail ? { detail } : {}) });

/**
 * The issuer URL rule (OpenID Connect Discovery 1.0 §2, §4.3; DESIGN §4): https, no query, fragment or user
 * information; http only for `localhost` / 127.0.0.1 / ::1 when `TESSERA_SSO_ALLOW_LOOPBACK` allows it.
 * The issuer is kept exactly as written: the discovered `issuer` must equal it byte for byte.
 */
export function checkIssuerUrl(issuer: string, policy: OutboundNetworkPolicy): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw configError(`The issuer "${issuer}" is not a URL.`);
  }
  if (url.search || url.hash || url.username || url.password || issuer.includes('?') || issuer.includes('#')) {
    throw configError('The issuer URL may not carry a query, a fragment or credentials (OpenID Connect Discovery 1.0 §2).');
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && policy.allowLoopback && isLoopbackHost(url.hostname)) return url;
  throw configError('The issuer URL must use https (http only for localhost in development, with TESSERA_SSO_ALLOW_LOOPBACK).');
}

/** A PEM bundle of one or more certificates, each parsed by node:crypto; returns it normalised. */
export function checkCaBundle(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const rest = pem.replace(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g, '').trim();
  if (blocks.length === 0 || rest !== '') throw configError('The CA bundle must hold PEM certificates only (-----BEGIN CERTIFICATE----- blocks).');
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      throw configError(`Certificate ${i + 1} of the CA bundle does not parse.`);
    }
  }
  return blocks.join('\n') + '\n';
}

/** What the sso feature keeps of an issuer: its metadata as fetched. */
export type DiscoveryDocument = Record<string, unknown>;

/** The operator settings that widen where SSO may reach an IdP, named in refusals. */
export const SSO_NETWORK_SETTINGS: OutboundSettingNames = { allowLoopback: 'TESSERA_SSO_ALLOW_LOOPBACK', privateNetworks: 'TESSERA_SSO_PRIVATE_NETWORKS' };

/**
 * The fetch an issuer is reached with: the outbound network guard (net/outbound-network.ts) trusting the
 * connection's CA bundle (instead of the public CAs) when it has one, with bounded timeouts; redirects are never
 * followed (a 3xx is an error), so a request cannot be bounced to another host.
 */
export function issuerFetch(policy: OutboundNetworkPolicy, caBundlePem: string | null) {
  const guarded = guardedFetch(policy, { ca: caBundlePem, timeoutMs: DISCOVERY_TIMEOUT_SECONDS * 1000, settings: SSO_NETWORK_SETTINGS });
  // undici's Response and the global one are the same at run time; their types differ once a dependency's typings
  // bring in the `dom` lib (samlify's, through @xmldom/xmldom), hence the cast.
  const fetch: client.CustomFetch = (url, options) => guarded.fetch(url, { ...(options as object) }) as unknown as ReturnType<client.CustomFetch>;
  return { fetch, close: guarded.close };
}

function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 6; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

function mismatch(issuer: string, found?: unknown): AppError {
  const named = typeof found === 'string' ? ` (it says "${found}")` : '';
  return configError(`The discovery document's "issuer"${named} is not exactly "${issuer}"; the configured issuer must equal it character for character (OpenID Connect Discovery 1.0 §4.3), trailing slash included.`);
}

/** Why the discovery failed, in words an administrator can act on. */
function explain(err: unknown, issuer: string): AppError {
  const chain = causeChain(err);
  const code = (e: unknown) => (e as { code?: unknown }).code;
  if (chain.some((e) => code(e) === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED')) return mismatch(issuer);
  const refused = chain.find((e) => e instanceof AddressRefused);
  if (refused) return configError(`The issuer may not be reached: ${(refused as Error).message}.`);
  if (chain.some((e) => code(e) === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code(e) === 'OAUTH_INVALID_RESPONSE')) {
    const status = chain.map((e) => (e as { status?: unknown }).status).find((s) => typeof s === 'number');
    return configError(`${issuer}/.well-known/openid-configuration did not answer with a discovery document${status ? ` (HTTP ${String(status)}; redirects are not followed)` : ''}.`);
  }
  const tls = chain.map(code).find((c): c is string => typeof c === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(c));
  if (tls) return configError(`The issuer's TLS certificate is not trusted (${tls}): add its CA to the connection's CA bundle.`);
  const timeout = chain.some((e) => (e as { name?: unknown }).name === 'TimeoutError' || (typeof code(e) === 'string' && /TIMEOUT/.test(code(e) as string)));
  if (timeout) return configError(`The issuer did not answer within ${DISCOVERY_TIMEOUT_SECONDS} seconds.`);
  const network = chain.map(code).find((c): c is string => typeof c === 'string' && /^E[A-Z]+$/.test(c));
  return configError(`Discovery at ${issuer} failed${network ? ` (${network})` : ''}.`, { error: chain.map((e) => String((e as Error)?.message ?? e)).join(' <- ') });
}

/**
 * OpenID Connect Discovery 1.0 with openid-client 6: fetches `<issuer>/.well-known/openid-configuration`, which
 * openid-client accepts only when its `issuer` equals the configured one exactly (§4.3). The pinned id_token
 * algorithm must be one the IdP offers, when it lists them.
 */
export async function discoverIssuer(input: { issuer: string; clientId: string; caBundlePem: string | null; idTokenAlg: string }, policy: OutboundNetworkPolicy): Promise<DiscoveryDocument> {
  const url = checkIssuerUrl(input.issuer, policy);
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  const refused = literal !== 'localhost' ? addressRefusal(literal, policy, SSO_NETWORK_SETTINGS) : undefined;
  if (refused && /^[\d.]+$|:/.test(literal)) throw configError(`The issuer may not be reached: ${refused}.`);
  const { fetch, close } = issuerFetch(policy, input.caBundlePem);
  try {
    const configuration = await client.discovery(url, input.clientId, { id_token_signed_response_alg: input.idTokenAlg }, client.None(), {
      [client.customFetch]: fetch,
      timeout: DISCOVERY_TIMEOUT_SECONDS,
      ...(url.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
    });
    const document = { ...configuration.serverMetadata() } as DiscoveryDocument;
    // openid-client compares issuers as parsed URLs, so `https://idp` and `https://idp/` pass for each other; the
    // id_token's `iss` is compared as a string (OpenID Connect Core §3.1.3.7 step 2), so the configured issuer must
    // be the document's, character for character.
    if (document.issuer !== input.issuer) throw mismatch(input.issuer, document.issuer);
    const algs = document.id_token_signing_alg_values_supported;
    if (Array.isArray(algs) && !algs.includes(input.idTokenAlg)) {
      throw configError(`The IdP does not offer ${input.idTokenAlg} for id_tokens (it offers ${algs.join(', ')}); pin one of those.`);
    }
    return document;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw explain(err, input.issuer);
  } finally {
    await close();
  }
}
