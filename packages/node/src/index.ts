export { type TesseraAuth, type TesseraAuthContext, type TesseraAuthOptions, type Refusal, bearerToken, checkPermissions, createTesseraAuth, refusalOf } from './auth.js';
export { type RetryOptions, type TesseraClient, type TesseraClientOptions, type paths, createTesseraClient, createTesseraFetch, retryAfterMs } from './client.js';
export { type ProviderMetadata } from './discovery.js';
export { PermissionError, TOKEN_ERROR_CODES, TesseraApiError, TesseraError, type TesseraErrorCode, TokenError, type TokenErrorCode } from './errors.js';
export { type IntrospectionOptions, type IntrospectionResult, type Introspector, createIntrospector } from './introspection.js';
export { BACKCHANNEL_LOGOUT_EVENT, type LogoutTokenClaims, type LogoutTokenVerifier, type LogoutTokenVerifierOptions, createLogoutTokenVerifier } from './logout.js';
export { ASYMMETRIC_ALGORITHMS, type AccessTokenClaims, type Verifier, type VerifierOptions, createVerifier } from './verifier.js';
