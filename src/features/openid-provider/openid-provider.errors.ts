import { defineErrors } from '../../kernel/app-error.js';

export const OpenIdProviderErrors = defineErrors({
  'openid_provider.interaction_not_found': { status: 400, message: 'This sign-in request has expired or belongs to another browser. Start again from the application.' },
  'openid_provider.account_mismatch': { status: 403, message: 'The application belongs to another account than the one you signed in to. Sign in to the application’s account.' },
  'openid_provider.reauthentication_required': { status: 401, message: 'The application asks you to sign in again.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof OpenIdProviderErrors, true> {}
}
