/**
 * Every failure of the SDK is a `TesseraError` with a stable `code` (documented in README.md, "Error codes"): code
 * against the code, never the message.
 */
export const TOKEN_ERROR_CODES = [
  'token_missing',
  'token_malformed',
  'token_algorithm_not_allowed',
  'token_wrong_type',
  'token_unknown_key',
  'token_invalid_signature',
  'token_expired',
  'token_not_yet_valid',
  'token_wrong_issuer',
  'token_wrong_audience',
  'token_claims_invalid',
  'token_inactive',
] as const;
export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[number];

export type TesseraErrorCode = TokenErrorCode | 'permission_denied' | 'discovery_failed' | 'jwks_unavailable' | 'introspection_failed' | 'configuration_invalid';

export class TesseraError extends Error {
  override readonly name: string = 'TesseraError';
  constructor(
    readonly code: TesseraErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The bearer token was refused (missing, malformed, badly signed, expired, not for this API, or no longer active). */
export class TokenError extends TesseraError {
  override readonly name = 'TokenError';
  declare readonly code: TokenErrorCode;
  constructor(code: TokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The token is good but does not carry the permission(s) the route needs. */
export class PermissionError extends TesseraError {
  override readonly name = 'PermissionError';
  constructor(
    readonly required: readonly string[],
    readonly mode: 'all' | 'any',
  ) {
    super('permission_denied', `The token does not carry ${mode === 'all' ? 'every one' : 'any'} of: ${required.join(', ')}.`);
  }
}

/**
 * An error answer of Tessera's REST API: `code` is the catalog's stable code from the error body
 * (`{ "error": { "code", "message", "requestId" } }`), `status` the HTTP status.
 */
export class TesseraApiError extends Error {
  override readonly name = 'TesseraApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
