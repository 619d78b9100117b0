import { z } from 'zod';

const id = z.uuid();

export const GroupIdParams = z.object({ id });
export const GroupMemberParams = z.object({ id, userId: id });
export const GroupSchema = z.object({ id: z.string(), name: z.string(), description: z.string(), memberCount: z.number().int(), createdAt: z.string(), updatedAt: z.string() }).meta({ id: 'Group' });
export const GroupList = z.object({ items: z.array(GroupSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });
export const GroupListQuery = z.object({ q: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(200).default(50), offset: z.coerce.number().int().min(0).default(0) });
export const CreateGroupBody = z.object({ name: z.string().trim().min(1).max(200), description: z.string().max(2000).optional() });
export const UpdateGroupBody = z.object({ name: z.string().trim().min(1).max(200).optional(), description: z.string().max(2000).optional() });
export const MemberList = z.object({
  items: z.array(z.object({ id: z.string(), email: z.string(), name: z.string().nullable(), active: z.boolean(), addedAt: z.string() })),
  limit: z.number().int(),
  offset: z.number().int(),
});
