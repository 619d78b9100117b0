import { z } from 'zod';
import { PASSWORD_MAX } from '../../crypto/password.js';
import type { Principal } from '../../kernel/principal.js';

const Name = z.string().trim().min(1).max(200);
// E.164-ish: digits with an optional +, spaces, dots, dashes and parentheses; stored as given.
const Phone = z
  .string()
  .trim()
  .max(40)
  .regex(/^\+?[0-9 ().-]{3,40}$/, 'must be a phone number such as +1 555 0100');
// The policy (length, common list) is checked by the service, which names the rule broken.
const Password = z.string().max(PASSWORD_MAX * 4);

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    name: z.string().nullable(),
    phone: z.string().nullable(),
    active: z.boolean(),
    isTenantAdmin: z.boolean(),
    mustChangePassword: z.boolean(),
    hasPassword: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'User' });

/** A user as the API shows it: the principal (src/kernel/principal.ts), its times as ISO 8601 strings. */
export type User = { readonly [K in keyof Principal]: Principal[K] extends Date ? string : Principal[K] };

// `UserSchema` and the principal cannot drift apart: a field added to one and not the other fails to compile.
type Exactly<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const userSchemaIsThePrincipal: Exactly<Readonly<z.output<typeof UserSchema>>, User> = true;
void userSchemaIsThePrincipal;

export const UserIdParams = z.object({ userId: z.uuid() });

export const CreateUserBody = z
  .object({
    email: z.string().trim().pipe(z.email()).transform((e) => e.toLowerCase()),
    name: Name.nullish(),
    phone: Phone.nullish(),
    password: Password.optional().describe('Omit for a user who signs in through SSO or gets a password by reset.'),
    mustChangePassword: z.boolean().optional(),
    isTenantAdmin: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'CreateUser' });

export const UpdateUserBody = z
  .object({ name: Name.nullable(), phone: Phone.nullable(), active: z.boolean(), isTenantAdmin: z.boolean() })
  .partial()
  .strict()
  .meta({ id: 'UpdateUser' });

export const ListUsersQuery = z.object({
  q: z.string().trim().max(200).optional().describe('Case-insensitive substring of the email or name.'),
  active: z.enum(['true', 'false']).optional().transform((v) => (v === undefined ? undefined : v === 'true')),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const UserList = z
  .object({ items: z.array(UserSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
  .meta({ id: 'UserList' });

export const ResetPasswordBody = z
  .object({
    password: Password.optional().describe('Omit to generate a one-time password, returned once.'),
    mustChangePassword: z.boolean().optional().describe('Default true: the user must choose a new password at the next login.'),
  })
  .strict();

export const ResetPasswordResponse = z.object({ generatedPassword: z.string().optional() });

export const UpdateProfileBody = z.object({ name: Name.nullable(), phone: Phone.nullable() }).partial().strict().meta({ id: 'UpdateProfile' });

export const ChangePasswordBody = z.object({ currentPassword: Password, newPassword: Password }).strict();
