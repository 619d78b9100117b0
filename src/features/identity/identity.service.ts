import type { PasswordHasher } from '../../crypto/password.js';
import type { Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import * as store from './users.store.js';

export interface IdentityDeps {
  readonly clock: Clock;
  readonly passwords: PasswordHasher;
}

export function createIdentityService({ clock, passwords }: IdentityDeps) {
  return {
    /** Creates a user in the caller's unit of work; the password (if any) is stored only as an argon2id hash. */
    async createUser(
      tx: Tx,
      tenantId: string,
      input: { email: string; name?: string | null; password?: string; mustChangePassword?: boolean; isTenantAdmin?: boolean },
    ) {
      const now = clock.now();
      const id = newId(now.getTime());
      await store.insertUser(tx, tenantId, {
        id,
        email: input.email.trim(),
        name: input.name ?? null,
        passwordHash: input.password === undefined ? null : await passwords.hash(input.password),
        mustChangePassword: input.mustChangePassword ?? false,
        isTenantAdmin: input.isTenantAdmin ?? false,
        createdAt: now,
      });
      return { id };
    },
    findUserByEmail: store.findUserByEmail,
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
