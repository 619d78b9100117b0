/**
 * Tenant slugs name a tenant in the tenant-specific sign-in URL `/t/<slug>/login` (product rule: a user of several
 * tenants is never asked which one). The form is a DNS label's (RFC 1035 §2.3.1, lowercase): letters, digits and
 * inner hyphens, 2–63 characters; migration 0024 checks the same form and the same reserved words.
 */
export const SLUG_FORM = /^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$/;

/** The server's own first path segments and the `/t/` prefix itself: a slug equal to one would read ambiguously. */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set(['api', 'auth', 'console', 'login', 'assets', 'scim', 't']);

/** Why a slug cannot be used ('invalid' or 'reserved'), undefined when its form is fine. */
export function slugProblem(slug: string): 'invalid' | 'reserved' | undefined {
  if (!SLUG_FORM.test(slug)) return 'invalid';
  if (RESERVED_SLUGS.has(slug)) return 'reserved';
  return undefined;
}

/** The base slug a tenant's name gives (as migration 0024's backfill): `tenant` when the name gives nothing usable. */
export function slugFromName(name: string): string {
  const base = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/g, '');
  return slugProblem(base) ? 'tenant' : base;
}
