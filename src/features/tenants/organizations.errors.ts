import { defineErrors } from '../../kernel/app-error.js';

/** Organizations of an account (DESIGN §2): a unit inside an account that roles can be scoped to. */
export const OrganizationErrors = defineErrors({
  'organizations.name_taken': { status: 409, message: 'An organization with this name already exists in the account (names are compared case-insensitively).' },
  'organizations.in_use': {
    status: 409,
    message: 'Roles are scoped to this organization; delete those roles or change their organizationId (PATCH /api/v1/roles/{id}) first.',
  },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof OrganizationErrors, true> {}
}
