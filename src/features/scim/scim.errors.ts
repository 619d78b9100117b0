import { defineErrors } from '../../kernel/app-error.js';

/**
 * The scim feature's codes. On `/scim/v2/*` every error is rendered in the SCIM error schema (RFC 7644 §3.12):
 * the codes below that RFC 7644 gives a `scimType` carry it (SCIM_TYPES), the rest only their status.
 */
export const ScimErrors = defineErrors({
  'scim.directory_not_found': { status: 404, message: 'No such SCIM directory in your tenant.' },
  'scim.name_taken': { status: 409, message: 'Another SCIM directory of the tenant has that name.' },
  'scim.sso_connection_not_found': { status: 400, message: 'The SSO connection is not a connection of your tenant.' },
  'scim.too_many_tokens': { status: 409, message: 'The directory already has two live tokens; revoke one first.' },
  'scim.token_not_found': { status: 404, message: 'No such token of this directory.' },
  'scim.unauthorized': { status: 401, message: 'A bearer token of this SCIM directory is required.' },
  'scim.resource_not_found': { status: 404, message: 'No such resource in this directory.' },
  'scim.precondition_failed': { status: 412, message: 'The resource changed: its version does not match If-Match.' },
  'scim.invalid_filter': { status: 400, message: 'The filter is not valid.' },
  'scim.invalid_syntax': { status: 400, message: 'The request is not a valid SCIM message.' },
  'scim.invalid_path': { status: 400, message: 'The PATCH path is not valid.' },
  'scim.invalid_value': { status: 400, message: 'A value is missing or not valid.' },
  'scim.no_target': { status: 400, message: 'The PATCH path matched no value.' },
  'scim.mutability': { status: 400, message: 'The attribute cannot be changed.' },
  'scim.uniqueness': { status: 409, message: 'The value is already taken.' },
  'scim.too_many': { status: 400, message: 'The request would return or change too many resources.' },
  'scim.role_not_found': { status: 400, message: 'The role does not exist in an account of this tenant.' },
  'scim.role_forbidden': { status: 400, message: 'A directory cannot give the Account Administrator role.' },
  'scim.invalid_mapping': { status: 400, message: 'The role mappings are not valid.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof ScimErrors, true> {}
}

/** RFC 7644 §3.12 Table 9: the `scimType` of the codes it defines. */
export const SCIM_TYPES: Readonly<Partial<Record<string, string>>> = {
  'scim.invalid_filter': 'invalidFilter',
  'scim.invalid_syntax': 'invalidSyntax',
  'scim.invalid_path': 'invalidPath',
  'scim.invalid_value': 'invalidValue',
  'scim.no_target': 'noTarget',
  'scim.mutability': 'mutability',
  'scim.uniqueness': 'uniqueness',
  'scim.too_many': 'tooMany',
};
