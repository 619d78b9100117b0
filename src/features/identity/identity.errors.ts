import { defineErrors } from '../../kernel/app-error.js';

/** Identity's codes, `feature.reason` (DESIGN §6 rule 5), documented in docs/errors.md. */
export const IdentityErrors = defineErrors({
  'identity.cannot_delete_self': { status: 409, message: 'You cannot delete or deactivate your own user.' },
  'identity.last_tenant_admin': { status: 409, message: 'The last active tenant administrator cannot be deleted, deactivated or demoted.' },
  'identity.email_domain_mismatch': { status: 422, message: "The email address is not in one of the tenant's email domains." },
  'identity.email_taken': { status: 409, message: 'A user with this email address already exists in the tenant.' },
  'identity.password_policy': { status: 422, message: 'The password must have 8 to 128 characters and must not be a commonly used password.' },
  'identity.current_password_invalid': { status: 403, message: 'The current password is not correct.' },
  'identity.too_many_password_attempts': { status: 429, message: 'Too many wrong current passwords; wait and retry later.' },
  'identity.tenant_admin_required': { status: 403, message: 'Only a tenant administrator may do this.' },
  'identity.self_service_required': {
    status: 403,
    message: 'Change your own password or two-step verification through /api/v1/me (it asks for your current password or a recent sign-in).',
  },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof IdentityErrors, true> {}
}
