import { defineErrors } from '../../kernel/app-error.js';

/** Organizations of an account (issue 4): the plain codes the access-control issue names. */
export const OrganizationErrors = defineErrors({
  organization_name_taken: { status: 409, message: 'An organization with this name already exists in the account (names are compared case-insensitively).' },
  organization_in_use: {
    status: 409,
    message: 'Roles are scoped to this organization; delete those roles or change their organizationId (PATCH /api/v1/roles/{id}) first.',
  },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof OrganizationErrors, true> {}
}
