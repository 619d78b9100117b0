import { z } from 'zod';

export const DomainIdParams = z.object({ id: z.uuid() });
export const AddDomainBody = z.object({
  domain: z.string().min(1).max(300).describe('A domain the tenant controls, e.g. `example.com` (normalised: lowercase, IDNA A-labels, no trailing dot)'),
});
export const DomainSchema = z.object({
  id: z.string(),
  domain: z.string(),
  status: z.enum(['pending', 'verified']),
  verifiedAt: z.string().nullable(),
  verifiedBy: z.enum(['dns', 'operator']).nullable().describe('`dns`: the TXT record; `operator`: `tessera domains verify --force`'),
  lastCheckedAt: z.string().nullable(),
  createdAt: z.string(),
  requireSso: z.boolean().describe('Password logins of the domain\'s emails are refused (`sso_required`) while an enabled SSO connection of the tenant lists it; break-glass users excepted'),
  verification: z.object({
    type: z.literal('TXT'),
    name: z.string().describe('Where to publish the record: `_tessera-verification.<domain>`'),
    value: z.string().describe('The record value: `tessera-verification=<token>`'),
  }),
});
export const DomainList = z.object({ items: z.array(DomainSchema) });
export const UpdateDomainBody = z.object({
  requireSso: z.boolean().describe('Require SSO for the domain\'s emails (refused unless verified, served by an enabled connection, and the tenant has a break-glass user)'),
});
