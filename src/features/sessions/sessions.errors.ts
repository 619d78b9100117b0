import { defineErrors } from '../../kernel/app-error.js';

/** The sessions feature's codes (`sessions.*`), and `invalid_token` as RFC 6750 §3.1 names it. */
export const SessionErrors = defineErrors({
  'sessions.invalid_credentials': { status: 401, message: 'Invalid email or password' },
  invalid_token: { status: 401, message: 'The token is missing, malformed, expired or not valid here.' },
  'sessions.invalid_mfa_code': { status: 401, message: 'Invalid verification code' },
  'sessions.account_context_required': { status: 403, message: 'Please select an account context first' },
  'sessions.no_accounts': { status: 403, message: 'You have no role in any account yet; ask an administrator for access.' },
  'sessions.step_up_required': { status: 403, message: 'Confirm it is you: send your current password, or sign in again and retry within 5 minutes.' },
  'sessions.no_account_access': { status: 403, message: 'You have no access to this account.' },
  'sessions.refresh_token_invalid': { status: 401, message: 'The refresh token is missing, expired or revoked; log in again.' },
  'sessions.too_many_attempts': { status: 429, message: 'Too many failed sign-in attempts; wait and retry later.' },
  'sessions.login_busy': { status: 503, message: 'Too many sign-ins are waiting; retry after the Retry-After seconds.' },
  sso_required: { status: 403, message: 'This email\'s domain requires single sign-on: sign in through its SSO connection (see error.details).' },
  'sessions.break_glass_mfa_required': { status: 403, message: 'A break-glass login needs a second factor, and this user has none enrolled; enroll TOTP first from a session (sign in through SSO, then POST /api/v1/me/mfa/setup).' },
  'sessions.tenant_required': { status: 400, message: 'This email is registered in more than one tenant; give the tenant id.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof SessionErrors, true> {}
}
