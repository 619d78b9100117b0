/**
 * Roles every account has. Account Administrator holds every permission of the catalog (the resolver
 * grants all keys to this system key, so keys registered later are included) and cannot be edited.
 */
export const ACCOUNT_ADMIN = {
  systemKey: 'account_admin',
  name: 'Account Administrator',
  description: 'Every permission in the account. System role: cannot be edited or deleted.',
} as const;
