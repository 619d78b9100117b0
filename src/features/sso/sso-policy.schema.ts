import { z } from 'zod';
import { MAX_BREAK_GLASS_USERS, MAX_RETURN_ORIGINS } from './sso-policy.service.js';

export const DiscoverBody = z.object({ email: z.email().max(320).describe('The email the user typed') });
export const DiscoverAnswer = z.object({
  method: z.enum(['sso', 'password']).describe('`sso`: send the user to `connection.startUrl`; `password`: show the password form'),
  connection: z.object({ id: z.string(), name: z.string(), startUrl: z.string() }).nullable(),
  ssoRequired: z.boolean().describe('The domain requires SSO: a password login will answer `sso_required` (break-glass users excepted)'),
});

const BreakGlassUser = z.object({
  userId: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  usable: z.boolean().describe('Still an active tenant administrator (a demoted or deactivated user stays listed but cannot use it)'),
  addedBy: z.string().nullable(),
  addedAt: z.string(),
});
export const BreakGlassList = z.object({ items: z.array(BreakGlassUser) });
export const BreakGlassBody = z.object({
  userIds: z.array(z.uuid()).max(MAX_BREAK_GLASS_USERS).describe('The complete list of break-glass users: active tenant administrators of this tenant'),
});

export const BreakGlassLoginsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(100).optional(),
});
export const BreakGlassLogins = z.object({
  items: z.array(z.object({ userId: z.string().nullable(), email: z.string().nullable(), ip: z.string().nullable(), userAgent: z.string().nullable(), at: z.string(), amr: z.array(z.string()) })),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next (older) page'),
});

export const SsoSettings = z.object({
  allowedReturnOrigins: z.array(z.string()).describe("Origins (`https://host[:port]`, http only for localhost) the tenant's SSO sign-ins may return to, besides PUBLIC_URL's"),
});
export const SsoSettingsBody = z.object({ allowedReturnOrigins: z.array(z.string().max(300)).max(MAX_RETURN_ORIGINS) });
