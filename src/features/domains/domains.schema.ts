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
  verification: z.object({
    type: z.literal('TXT'),
    name: z.string().describe('Where to publish the record: `_tessera-verification.<domain>`'),
    value: z.string().describe('The record value: `tessera-verification=<token>`'),
  }),
});
export const DomainList = z.object({ items: z.array(DomainSchema) });
