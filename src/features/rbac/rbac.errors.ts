import { defineErrors } from '../../kernel/app-error.js';

export const RbacErrors = defineErrors({
  'rbac.system_role_immutable': { status: 409, message: 'A system role cannot be edited or deleted.' },
  'rbac.role_in_use': { status: 409, message: 'The role has active assignments; remove them before deleting the role.' },
  'rbac.last_account_admin': { status: 409, message: 'This would leave the account without an active Account Administrator.' },
  'rbac.unknown_permission': { status: 422, message: 'A permission key is not in the catalog.' },
  'rbac.invalid_permission_key': { status: 422, message: 'A permission key must look like domain.action (lowercase letters, digits, underscores).' },
  'rbac.permission_in_use': { status: 409, message: 'A permission key that a role uses cannot be removed from the catalog unless forced.' },
  'rbac.catalog_version_conflict': { status: 409, message: 'The catalog changed since the version you sent; read it again and retry.' },
  'rbac.role_name_taken': { status: 409, message: 'A role with this name already exists in the account.' },
  'rbac.expiry_in_past': { status: 422, message: 'expiresAt must be in the future.' },
  'rbac.unknown_template': { status: 422, message: 'No such role template.' },
  'api_keys.invalid': { status: 401, message: 'The API key is not valid or was revoked.' },
  'rbac.api_key_scope': { status: 403, message: 'The API key is not scoped to this permission, or its creator no longer holds it.' },
  'rbac.grant_exceeds_own_access': { status: 403, message: 'The change would give more access than you hold.' },
  'rbac.target_exceeds_own_access': {
    status: 403,
    message:
      "This user holds access you do not hold (a permission, the Account Administrator role or tenant administration): only someone holding at least the user's access may reset their password or two-step verification, change their email or reactivate them.",
  },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof RbacErrors, true> {}
}
