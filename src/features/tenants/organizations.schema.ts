import { z } from 'zod';

const name = z.string().trim().min(1).max(200).describe('1–200 characters; unique in the account, case-insensitively');

export const OrganizationParams = z.object({ id: z.uuid() });
export const OrganizationSchema = z.object({ id: z.string(), name: z.string(), createdAt: z.string(), updatedAt: z.string() }).meta({ id: 'Organization' });
export const OrganizationList = z.object({ items: z.array(OrganizationSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });
export const OrganizationListQuery = z.object({
  q: z.string().max(200).optional().describe('Part of the name, case-insensitive'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export const CreateOrganizationBody = z.object({ name });
export const UpdateOrganizationBody = z.object({ name: name.optional() });
