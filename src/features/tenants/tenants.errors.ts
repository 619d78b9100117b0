import { defineErrors } from '../../kernel/app-error.js';

/** A tenant's slug (the tenant-specific sign-in URL `/t/<slug>/login`). */
export const TenantErrors = defineErrors({
  'tenants.slug_invalid': {
    status: 400,
    message: 'A slug is 2–63 lowercase letters, digits and hyphens, and neither starts nor ends with a hyphen.',
  },
  'tenants.slug_reserved': { status: 400, message: 'This slug is reserved by the server (api, auth, console, login, assets, scim, t).' },
  'tenants.slug_taken': { status: 409, message: 'Another tenant uses this slug.' },
  'tenants.slug_not_found': { status: 404, message: 'No tenant has this slug.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof TenantErrors, true> {}
}
