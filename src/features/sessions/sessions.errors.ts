import { defineErrors } from '../../kernel/app-error.js';

/** The codes the issue names (plain) and this feature's own (`sessions.*`). */
export const SessionErrors = defineErrors({
  invalid_credentials: { status: 401, message: 'Invalid email or password' },
  invalid_token: { status: 401, message: 'The token is missing, malformed, expired or not valid here.' },
  invalid_mfa_code: { status: 401, message: 'Invalid verification code' },
  account_context_required: { status: 403, message: 'Please select an account context first' },
  no_accounts: { status: 403, message: 'You have no role in any account yet; ask an administrator for access.' },
  step_up_required: { status: 403, message: 'Confirm it is you: send your current password, or sign in again and retry within 5 minutes.' },
  no_account_access: { status: 403, message: 'You have no access to this account.' },
  'sessions.refresh_token_invalid': { status: 401, message: 'The refresh token is missing, expired or revoked; log in again.' },
  'sessions.too_many_attempts': { status: 429, message: 'Too many failed sign-in attempts; wait and retry later.' },
  'sessions.tenant_required': { status: 400, message: 'This email is registered in more than one tenant; give the tenant id.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof SessionErrors, true> {}
}
