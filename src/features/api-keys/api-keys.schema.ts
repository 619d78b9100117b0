import { z } from 'zod';

const key = z.string().min(3).max(100).describe('A permission key, `domain.action`');

export const ApiKeyIdParams = z.object({ id: z.uuid() });
export const ApiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  accountId: z.string(),
  permissions: z.array(z.string()),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export const ApiKeyCreated = ApiKeySchema.extend({ key: z.string().describe('Shown once; only its hash is stored.') });
export const ApiKeyList = z.object({ items: z.array(ApiKeySchema) });
export const CreateApiKeyBody = z.object({ name: z.string().trim().min(1).max(200), permissions: z.array(key).min(1).max(1000) });
