import { z } from 'zod';

/**
 * A tenant's security policy, kept under `security` in `tenants.settings`. Every field has a default, so
 * a tenant that never configured anything gets exactly these values:
 *
 * | field | default | meaning |
 * | --- | --- | --- |
 * | `mfaRequired` | `false` | Every user must complete TOTP at login; users without it enroll during login. |
 * | `sessionLifetimeSeconds` | `43200` (12 h) | Absolute lifetime of a session; no refresh extends it. |
 * | `refreshLifetimeSeconds` | `28800` (8 h) | Lifetime of one refresh token: a session idle this long ends. |
 * | `allowedEmailDomains` | `[]` | The tenant's email domains (lower case). |
 * | `restrictEmailDomains` | `false` | When true, a user's email must be in one of `allowedEmailDomains`. |
 */
export const SECURITY_DEFAULTS = {
  mfaRequired: false,
  sessionLifetimeSeconds: 43_200,
  refreshLifetimeSeconds: 28_800,
  allowedEmailDomains: [] as string[],
  restrictEmailDomains: false,
} as const;

export const LIFETIME_MIN_SECONDS = 300;
export const LIFETIME_MAX_SECONDS = 30 * 24 * 3600;

// RFC 1035 §2.3.1 labels, at least two of them; IDNs are given in their ASCII (punycode) form.
const DOMAIN = /^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

export const EmailDomain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(DOMAIN, 'must be a domain name such as example.com');

const Lifetime = z.number().int().min(LIFETIME_MIN_SECONDS).max(LIFETIME_MAX_SECONDS);

export const SecuritySettingsSchema = z
  .object({
    mfaRequired: z.boolean(),
    sessionLifetimeSeconds: Lifetime,
    refreshLifetimeSeconds: Lifetime,
    allowedEmailDomains: z.array(EmailDomain).max(100),
    restrictEmailDomains: z.boolean(),
  })
  .meta({ id: 'TenantSecuritySettings' });

export type SecuritySettings = z.infer<typeof SecuritySettingsSchema>;

export const SecuritySettingsPatch = z
  .object({
    mfaRequired: z.boolean(),
    sessionLifetimeSeconds: Lifetime,
    refreshLifetimeSeconds: Lifetime,
    allowedEmailDomains: z.array(EmailDomain).max(100),
    restrictEmailDomains: z.boolean(),
  })
  .partial()
  .strict()
  .meta({ id: 'TenantSecuritySettingsPatch' });

export type SecuritySettingsPatch = z.infer<typeof SecuritySettingsPatch>;

/** The stored value with defaults for whatever is missing or unreadable (fields are read one by one). */
export function withDefaults(stored: unknown): SecuritySettings {
  const raw = (stored && typeof stored === 'object' ? stored : {}) as Record<string, unknown>;
  const shape = SecuritySettingsSchema.shape;
  const field = <K extends keyof SecuritySettings>(key: K): SecuritySettings[K] => {
    const parsed = shape[key].safeParse(raw[key]);
    return (parsed.success ? parsed.data : SECURITY_DEFAULTS[key]) as SecuritySettings[K];
  };
  return {
    mfaRequired: field('mfaRequired'),
    sessionLifetimeSeconds: field('sessionLifetimeSeconds'),
    refreshLifetimeSeconds: field('refreshLifetimeSeconds'),
    allowedEmailDomains: [...new Set(field('allowedEmailDomains'))],
    restrictEmailDomains: field('restrictEmailDomains'),
  };
}

/** Why a combination of settings is refused, or null. */
export function settingsProblem(settings: SecuritySettings): string | null {
  if (settings.refreshLifetimeSeconds > settings.sessionLifetimeSeconds) {
    return 'refreshLifetimeSeconds cannot exceed sessionLifetimeSeconds.';
  }
  if (settings.restrictEmailDomains && settings.allowedEmailDomains.length === 0) {
    return 'restrictEmailDomains needs at least one entry in allowedEmailDomains.';
  }
  return null;
}

/** Whether `email` may belong to the tenant: always when domains are unrestricted, else its domain is listed. */
export function emailDomainAllowed(settings: SecuritySettings, email: string): boolean {
  if (!settings.restrictEmailDomains) return true;
  const domain = email.slice(email.lastIndexOf('@') + 1).trim().toLowerCase();
  return settings.allowedEmailDomains.includes(domain);
}
