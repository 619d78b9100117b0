/** Where a connection's private_key_jwt public keys are published (RFC 7517 §5 JWK Set), under PUBLIC_URL. */
export const CLIENT_JWKS_PATH = '/auth/sso/connections/:id/jwks.json';
