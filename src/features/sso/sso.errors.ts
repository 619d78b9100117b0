import { defineErrors } from '../../kernel/app-error.js';

/**
 * SSO's codes. `sso_config`, `sso_disabled` and `sso_role_forbidden` are the product's fixed protocol-style
 * codes (the sign-in codes `sso_*` join them); the rest follow `feature.reason`.
 */
export const SsoErrors = defineErrors({
  sso_config: { status: 400, message: 'The SSO connection is misconfigured or its identity provider cannot be used.' },
  sso_disabled: { status: 403, message: 'This SSO connection is disabled.' },
  sso_role_forbidden: { status: 400, message: 'SSO cannot assign this role: never the Account Administrator role.' },
  sso_expired: { status: 400, message: 'The SSO sign-in expired or is not under way in this browser; start it again.' },
  sso_state: { status: 400, message: 'The identity provider\'s answer does not belong to this browser\'s sign-in (state or issuer mismatch).' },
  sso_signature: { status: 401, message: 'The identity provider\'s answer (id_token or SAML assertion) failed verification.' },
  sso_replay: { status: 401, message: 'The sign-in answer was already used (nonce or code replay).' },
  sso_audience: { status: 401, message: 'The identity provider\'s answer (id_token or SAML assertion) was not issued for this client.' },
  sso_domain: { status: 403, message: 'The email the identity provider asserted is not in a verified domain of this connection.' },
  sso_mfa_required: { status: 403, message: 'This connection requires the identity provider to assert a second factor.' },
  sso_user_inactive: { status: 403, message: 'The identity provider signed the user in, but the user is deactivated in this tenant.' },
  'sso.connection_not_found': { status: 404, message: 'No such SSO connection in this tenant.' },
  'sso.name_taken': { status: 409, message: 'Another SSO connection of this tenant has that name.' },
  'sso.role_not_found': { status: 400, message: 'The role does not exist in an account of this tenant.' },
  'sso.invalid_rule': { status: 400, message: 'A mapping rule is invalid.' },
  'sso.key_not_found': { status: 404, message: 'The connection publishes no client key with that kid.' },
  'sso.key_in_use': { status: 409, message: 'The current client key signs the connection\'s assertions; rotate before removing it.' },
  'sso.sp_key_not_found': { status: 404, message: 'The SAML connection has no SP key with that id.' },
  'sso.sp_key_in_use': { status: 409, message: 'The current SP key signs the connection\'s requests; rotate before removing it.' },
  'sso.test_not_found': { status: 404, message: 'No such connection test in this tenant, or it expired (outcomes are kept 30 minutes).' },
  'sso.break_glass_not_admin': { status: 422, message: 'Only active tenant administrators of this tenant can be break-glass users.' },
  'sso.break_glass_required': { status: 409, message: 'A domain requires SSO: the tenant must keep at least one break-glass user.' },
  'sso.invalid_return_origin': { status: 422, message: 'An allowed return origin must be https://host[:port] (http only for localhost), without path, query, fragment or user info.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof SsoErrors, true> {}
}
