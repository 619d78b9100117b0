import { z } from 'zod';
import { PASSWORD_MAX, PASSWORD_MIN } from '../../crypto/password.js';

export const BootstrapInput = z.object({
  tenantName: z.string().trim().min(1, 'tenant name is required').max(200, 'tenant name is at most 200 characters'),
  accountName: z.string().trim().min(1, 'account name is required').max(200, 'account name is at most 200 characters'),
  email: z
    .string()
    .trim()
    .pipe(z.email({ error: 'email must be an email address' }))
    .transform((e) => e.toLowerCase()),
  password: z
    .string()
    .min(PASSWORD_MIN, `password must be at least ${PASSWORD_MIN} characters`)
    .max(PASSWORD_MAX, `password must be at most ${PASSWORD_MAX} characters`)
    .optional(),
});
export type BootstrapInput = z.input<typeof BootstrapInput>;
