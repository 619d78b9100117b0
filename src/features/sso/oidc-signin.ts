import type * as jose from 'jose';
import * as client from 'openid-client';
import type { MasterKeys } from '../../crypto/master-key.js';
import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import type { RequestMeta } from '../sessions/index.js';
import { createJwksCache, createJwksCacheSet, IdTokenRefused, JWKS_CACHE_LIMIT, type JwksCache, verifyIdToken } from './id-token.js';
import type { OutboundNetworkPolicy } from '../../net/outbound-network.js';
import { issuerFetch } from './oidc-discovery.js';
import { refused, type SignInCore, type SignInFlow, SignInRefused } from './signin-core.js';
import { createCookieSealer, type SsoTransaction, TRANSACTION_TTL_SECONDS } from './sso-transaction.js';
import { CALLBACK_PATH } from './sso-paths.js';
import * as store from './sso.store.js';

export { CALLBACK_PATH } from './sso-paths.js';
/** RFC 8176 values that count as a second factor when the connection lists none. */
const DEFAULT_MFA_AMR = ['mfa', 'otp', 'hwk', 'swk', 'sms', 'fpt', 'face', 'iris', 'retina', 'vbm'];

/** What the OIDC protocol needs besides the shared sign-in (signin-core.ts). */
export interface OidcSignInDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly masterKeys: MasterKeys;
  /** PUBLIC_URL: the redirect_uri is built on it. */
  readonly publicUrl: string;
  readonly network: OutboundNetworkPolicy;
  readonly clientSecret: (tx: Tx, tenantId: string, row: store.ConnectionRow) => Promise<string | null>;
  /** private_key_jwt: the connection's current private key and its kid. */
  readonly clientKey: (tx: Tx, tenantId: string, row: store.ConnectionRow) => Promise<{ key: jose.CryptoKey; kid: string } | null>;
}

interface OidcConfig {
  issuer: string;
  clientId: string;
  tokenEndpointAuthMethod: string;
  clientAssertionAudience?: string;
  scopes: string;
  caBundlePem: string | null;
  idTokenSignedResponseAlg: string;
}


function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 6; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

/** openid-client's refusals of the callback or the code exchange, as sign-in codes. */
function fromOpenIdClient(err: unknown): SignInRefused {
  if (err instanceof SignInRefused) return err;
  if (err instanceof IdTokenRefused) return refused(err.code, err.message);
  const chain = causeChain(err);
  const field = (name: 'code' | 'claim' | 'error' | 'attribute') => chain.map((e) => (e as Record<string, unknown>)[name]).find((c): c is string => typeof c === 'string');
  const code = field('code');
  const claim = field('claim');
  const error = field('error');
  const message = (err as Error).message;
  if (claim === 'aud' || claim === 'azp') return refused('sso_audience', message);
  if (claim === 'nonce') return refused('sso_replay', message);
  if (claim === 'exp' || code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return refused('sso_expired', message);
  // OpenID Connect Core §5.3.2: userinfo's sub must be the id_token's (openid-client's expected subject).
  if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && field('attribute') === 'sub') return refused('sso_signature', 'userinfo\'s sub is not the id_token\'s.');
  // RFC 6749 §5.2: a code already redeemed or expired.
  if (error === 'invalid_grant') return refused('sso_replay', message);
  // The callback's own state and RFC 9207 iss are checked before the exchange; a state openid-client refuses is still ours.
  if (claim === 'state') return refused('sso_state', message);
  // The id_token itself was malformed or signed with an algorithm other than the pinned one.
  const messages = chain.map((e) => String((e as Error)?.message ?? '')).join(' | ');
  if (code?.startsWith('OAUTH_JWT') || claim !== undefined || /JWT|"alg"|signature/.test(messages)) return refused('sso_signature', messages);
  return refused('sso_config', message);
}

/**
 * OIDC sign-in through a tenant's connection (OpenID Connect Core §3.1, Authorization Code + PKCE S256, RFC 7636):
 * start, callback, and the one-time result the browser's front-end reads. openid-client does the protocol; the
 * id_token is verified by us (id-token.ts).
 */
export function createOidcSignIn(deps: OidcSignInDeps, core: SignInCore) {
  const { db, clock } = deps;
  const transactions = createCookieSealer(deps.masterKeys, 'transaction');
  const redirectUri = `${deps.publicUrl}${CALLBACK_PATH}`;
  const jwksCaches = createJwksCacheSet<JwksCache>(JWKS_CACHE_LIMIT);
  const nowSeconds = core.nowSeconds;

  /** The client's authentication at the token endpoint (OpenID Connect Core §9); null at start, where none is used. */
  type Credentials = { secret: string | null; key: { key: jose.CryptoKey; kid: string } | null } | null;

  function clientAuth(oidc: OidcConfig, credentials: Credentials, tokenEndpoint: unknown): client.ClientAuth {
    // No credential at start (only the authorization URL is built); the callback authenticates (RFC 6749 §2.3.1).
    if (credentials === null) return client.None();
    if (oidc.tokenEndpointAuthMethod === 'private_key_jwt') {
      // RFC 7523 §2.2 / Core §9: a JWT signed with the current key, its kid in the header so the IdP picks the key.
      if (!credentials.key) throw refused('sso_config', 'The connection has no client key; rotate one (POST …/keys/rotate).');
      // Core §9: the audience SHOULD be the token endpoint URL (Entra ID and Okta expect it); some IdPs (Auth0)
      // expect their issuer, which openid-client uses by default (RFC 7523 §3 allows either).
      if (oidc.clientAssertionAudience === 'issuer') return client.PrivateKeyJwt({ key: credentials.key.key, kid: credentials.key.kid });
      if (typeof tokenEndpoint !== 'string') throw refused('sso_config', 'The IdP publishes no token_endpoint.');
      return client.PrivateKeyJwt({ key: credentials.key.key, kid: credentials.key.kid }, {
        [client.modifyAssertion]: (_header, payload) => {
          payload.aud = tokenEndpoint;
        },
      });
    }
    if (credentials.secret === null) throw refused('sso_config', 'The connection has no client secret.');
    return oidc.tokenEndpointAuthMethod === 'client_secret_post' ? client.ClientSecretPost(credentials.secret) : client.ClientSecretBasic(credentials.secret);
  }

  function configuration(row: store.ConnectionRow, credentials: Credentials) {
    const oidc = row.config as unknown as OidcConfig;
    if (!row.discovery) throw refused('sso_config', 'The connection has no discovery document; refresh it.');
    const auth = clientAuth(oidc, credentials, row.discovery.token_endpoint);
    const config = new client.Configuration(row.discovery as client.ServerMetadata, oidc.clientId, { id_token_signed_response_alg: oidc.idTokenSignedResponseAlg }, auth);
    const { fetch, close } = issuerFetch(deps.network, oidc.caBundlePem);
    config[client.customFetch] = fetch;
    if (oidc.issuer.startsWith('http:')) client.allowInsecureRequests(config);
    return { config, oidc, close };
  }

  function jwksFor(row: store.ConnectionRow, oidc: OidcConfig): JwksCache {
    const jwksUri = row.discovery?.jwks_uri;
    if (typeof jwksUri !== 'string') throw refused('sso_config', 'The IdP publishes no jwks_uri.');
    return jwksCaches.get(row.id, `${jwksUri}|${oidc.caBundlePem ?? ''}`, () => {
      const { fetch, close } = issuerFetch(deps.network, oidc.caBundlePem);
      return { value: createJwksCache(jwksUri, (url, init) => fetch(url, { ...init, method: 'GET', body: undefined, redirect: 'manual' }), clock), close };
    });
  }

  return {
    redirectUri,

    /** GET /auth/sso/start for an OIDC connection: the IdP's authorization URL and the sealed transaction. */
    async start(row: store.ConnectionRow, flow: SignInFlow): Promise<{ location: string; transaction: string }> {
      const { config, oidc, close } = configuration(row, null);
      await close();
      const tx: SsoTransaction = {
        tenantId: flow.tenantId,
        connectionId: flow.connectionId,
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        returnTo: flow.returnTo,
        createdAt: nowSeconds(),
        ...(flow.test ? { test: flow.test } : {}),
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: oidc.scopes,
        code_challenge: await client.calculatePKCECodeChallenge(tx.codeVerifier),
        code_challenge_method: 'S256',
        state: tx.state,
        nonce: tx.nonce,
      });
      return { location: url.href, transaction: transactions.seal(tx) };
    },

    /**
     * GET /auth/sso/oidc/callback: the checks in order (transaction, state, RFC 9207 iss, code exchange with
     * PKCE, our id_token verification, userinfo), then the shared rest (signin-core.ts `finish`: the email's
     * domain, the IdP's MFA, the user, the rules, the pipeline). Each refusal is audited `sso.login.failed`.
     */
    async callback(query: Record<string, string | undefined>, transactionCookie: string | undefined, meta: RequestMeta): Promise<{ result: string | null; returnTo: string | null; testId: string | null }> {
      const tx = transactions.open<SsoTransaction>(transactionCookie);
      if (!tx) throw refused('sso_expired', 'No sign-in under way in this browser (the transaction cookie is missing or altered).');
      const test = tx.test;
      const { fail, received } = core.failure(tx, meta);
      if (nowSeconds() - tx.createdAt > TRANSACTION_TTL_SECONDS) return fail('sso_expired', 'The sign-in took longer than 10 minutes; start again.');
      // RFC 6749 §10.12: the state binds the response to this browser's request.
      if (query.state !== tx.state) return fail('sso_state', 'The state does not match this browser\'s sign-in.');
      const row = await db.tenantWork(tx.tenantId, (t) => store.findConnection(t, tx.tenantId, tx.connectionId));
      if (!row || row.type !== 'oidc') return fail('sso_config', 'The connection no longer exists.');
      if (!row.enabled && !test) return fail('sso_disabled', 'This SSO connection is disabled.');
      if (query.error) return fail('sso_config', `The IdP answered ${query.error}.`, { error: query.error.slice(0, 100) });
      const oidc = row.config as unknown as OidcConfig;
      // RFC 9207 §2.4: `iss` must equal the issuer when present, and must be present when the OP advertises it.
      if (query.iss !== undefined && query.iss !== oidc.issuer) return fail('sso_state', 'The response\'s iss is not the connection\'s issuer (RFC 9207).');
      if (query.iss === undefined && row.discovery?.authorization_response_iss_parameter_supported === true) return fail('sso_state', 'The IdP advertises RFC 9207 iss but the response has none.');

      const { secret, key } = await db.tenantWork(tx.tenantId, async (t) => ({ secret: await deps.clientSecret(t, tx.tenantId, row), key: await deps.clientKey(t, tx.tenantId, row) }));
      let claims: jose.JWTPayload;
      let configured: ReturnType<typeof configuration>;
      try {
        configured = configuration(row, { secret, key });
      } catch (err) {
        const mapped = fromOpenIdClient(err);
        return await fail(mapped.code, mapped.message, { reason: mapped.message.slice(0, 200) });
      }
      const { config, close } = configured;
      try {
        const current = new URL(redirectUri);
        for (const [k, v] of Object.entries(query)) if (v !== undefined) current.searchParams.set(k, v);
        const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: tx.codeVerifier, expectedState: tx.state, expectedNonce: tx.nonce, idTokenExpected: true });
        const idToken = tokens.id_token;
        if (!idToken) return await fail('sso_signature', 'The IdP returned no id_token.');
        claims = await verifyIdToken(idToken, { issuer: oidc.issuer, clientId: oidc.clientId, alg: oidc.idTokenSignedResponseAlg, nonce: tx.nonce, clientSecret: secret }, jwksFor(row, oidc), clock);
        const emailClaim = (row.claim_mapping as { email?: string }).email ?? 'email';
        if (claims[emailClaim] === undefined && typeof row.discovery?.userinfo_endpoint === 'string') {
          // Core §5.3.2: userinfo's sub must equal the id_token's (openid-client checks the expected subject).
          const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub!);
          claims = { ...userinfo, ...claims };
        }
      } catch (err) {
        if (err instanceof SignInRefused) throw err;
        const mapped = fromOpenIdClient(err);
        return await fail(mapped.code, mapped.message, { reason: mapped.message.slice(0, 200) });
      } finally {
        await close();
      }

      received(claims);
      const rawEmail = claims[(row.claim_mapping as { email?: string }).email ?? 'email'];
      // Core §5.1: an email the IdP says is unverified is not an identity.
      if (typeof rawEmail !== 'string' || claims.email_verified === false) return fail('sso_domain', 'The IdP asserted no verified email.', { sub: claims.sub });
      // MFA delegated to the IdP: amr (RFC 8176) or an accepted acr.
      const policy = row.mfa_policy as { acceptedAmr?: string[]; acceptedAcr?: string[] };
      const amr = Array.isArray(claims.amr) ? (claims.amr as unknown[]).filter((a): a is string => typeof a === 'string').slice(0, 20) : [];
      const acceptedAmr = policy.acceptedAmr?.length ? policy.acceptedAmr : DEFAULT_MFA_AMR;
      const idpMfa = amr.some((a) => acceptedAmr.includes(a)) || (typeof claims.acr === 'string' && (policy.acceptedAcr ?? []).includes(claims.acr));
      return core.finish(tx, row, { subject: claims.sub!, claims, email: rawEmail, idpMfa, amr, evidence: { amr } }, meta, fail);
    },
  };
}

export type OidcSignIn = ReturnType<typeof createOidcSignIn>;
