/** Where a connection's private_key_jwt public keys are published (RFC 7517 §5 JWK Set), under PUBLIC_URL. */
export const CLIENT_JWKS_PATH = '/auth/sso/connections/:id/jwks.json';

/** The OIDC redirect URI registered at every IdP (OpenID Connect Core §3.1.2.1: matched exactly), under PUBLIC_URL. */
export const CALLBACK_PATH = '/auth/sso/oidc/callback';
