import { defineErrors } from '../../kernel/app-error.js';

export const ApplicationsErrors = defineErrors({
  'applications.invalid_redirect_uri': { status: 400, message: 'A redirect URI is not acceptable: it must be an absolute https URL (http only on a loopback address) without a fragment.' },
  'applications.invalid_origin': { status: 400, message: 'An allowed origin is not acceptable: give scheme, host and port only (https, or http on a loopback address).' },
  'applications.invalid_resource': { status: 400, message: 'An API identifier is not acceptable: give an https URL (no query, no fragment) or a URN.' },
  'applications.invalid_config': { status: 400, message: 'The application settings do not fit its type.' },
  'applications.not_found': { status: 404, message: 'No such application in this account.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof ApplicationsErrors, true> {}
}
