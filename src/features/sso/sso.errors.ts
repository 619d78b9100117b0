import { defineErrors } from '../../kernel/app-error.js';

/**
 * SSO's codes. `sso_config`, `sso_disabled` and `sso_role_forbidden` are the product's fixed protocol-style
 * codes (the sign-in codes `sso_*` join them); the rest follow `feature.reason`.
 */
export const SsoErrors = defineErrors({
  sso_config: { status: 400, message: 'The SSO connection is misconfigured or its identity provider cannot be used.' },
  sso_disabled: { status: 403, message: 'This SSO connection is disabled.' },
  sso_role_forbidden: { status: 400, message: 'SSO cannot assign this role: never the Account Administrator role.' },
  'sso.connection_not_found': { status: 404, message: 'No such SSO connection in this tenant.' },
  'sso.name_taken': { status: 409, message: 'Another SSO connection of this tenant has that name.' },
  'sso.role_not_found': { status: 400, message: 'The role does not exist in an account of this tenant.' },
  'sso.invalid_rule': { status: 400, message: 'A mapping rule is invalid.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof SsoErrors, true> {}
}
