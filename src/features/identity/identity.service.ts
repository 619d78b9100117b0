import type { PasswordHasher } from '../../crypto/password.js';
import { generatePassword } from '../../crypto/random.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError, isAppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { createEventBus } from '../../kernel/events.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { Principal } from '../../kernel/principal.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { requireRecentAuthentication, type GuessThrottle, type StepUpProof } from '../sessions/index.js';
import { emailDomainAllowed, type SecuritySettings } from '../tenants/index.js';
import { IdentityErrors } from './identity.errors.js';
import type { User } from './identity.schema.js';
import { passwordProblem } from './password-policy.js';
import type { StampReason, UserEvent, UserEvents } from './user-events.js';
import type { Takeover, TakeoverAttempt } from './takeover.js';
import * as store from './users.store.js';
import { isUniqueViolation } from '../../db/pg-errors.js';

/** The user an action is taken by, as the audit log records it. */
export type UserActor = Extract<AuditActor, { type: 'user' }> & { readonly id: string };

export interface IdentityDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly passwords: PasswordHasher;
  readonly audit: AuditRecorder;
  /** The tenant's security settings (the tenants feature). */
  readonly securitySettings: (tx: Tx, tenantId: string) => Promise<SecuritySettings>;
  /** Login's throttle, for guesses of a logged-in user's current password (the sessions feature). */
  readonly guesses: GuessThrottle;
  /** The takeover rule and the unit of work that audits its refusals (the rbac feature's grant rule). */
  readonly takeover: TakeoverRule;
}

/** What identity needs of rbac's takeover rule (grant-rule.ts), passed in by app.ts. */
export interface TakeoverRule {
  assertMayActAs(tx: Tx, attempt: TakeoverAttempt, change: Takeover): Promise<void>;
  refusalsRecorded<T>(tenantId: string, actor: AuditActor, work: (tx: Tx) => Promise<T>): Promise<T>;
  /** The last-Account-Administrator rule around a change of the user's status (throws `rbac.last_account_admin`). */
  withAccountAdminsKept<T>(tx: Tx, tenantId: string, principal: { userId: string }, change: () => Promise<T>): Promise<T>;
}

export type { User };

/** The one mapping from the principal to its JSON form, for every route that shows a user (and GET /me). */
export function toUser(p: Principal): User {
  return { ...p, createdAt: p.createdAt.toISOString(), updatedAt: p.updatedAt.toISOString() };
}

export interface NewUserInput {
  email: string;
  name?: string | null | undefined;
  phone?: string | null | undefined;
  /** None: the user signs in through SSO, or gets one by a password reset. */
  password?: string | undefined;
  mustChangePassword?: boolean | undefined;
  isTenantAdmin?: boolean | undefined;
}

export interface UserPatch {
  name?: string | null | undefined;
  phone?: string | null | undefined;
  active?: boolean | undefined;
  isTenantAdmin?: boolean | undefined;
}

export function createIdentityService({ db, clock, passwords, audit, securitySettings, guesses, takeover }: IdentityDeps) {
  const events = createEventBus<UserEvent, Tx>();

  /** Rotated in the same unit of work as every change to the user's credentials or sessions (migration 0008). */
  async function rotateSecurityStamp(tx: Tx, tenantId: string, userId: string, reason: StampReason, sessionId?: string): Promise<void> {
    await store.rotateSecurityStamp(tx, tenantId, userId);
    await events.emit(tx, { type: 'user.security_stamp_changed', tenantId, userId, reason, ...(sessionId ? { sessionId } : {}) });
  }

  /**
   * Every write to an existing user's record goes through here or `writePassword`, which emit the user events
   * in the write's transaction. Deactivation is part of the write: it rotates the security stamp and emits
   * `user.deactivated` (the sessions feature ends every session of the user at once).
   */
  async function writeUser(tx: Tx, tenantId: string, before: Principal, changes: store.UserChanges): Promise<void> {
    const userId = before.id;
    await store.updateUser(tx, tenantId, userId, changes, clock.now());
    await events.emit(tx, { type: 'user.changed', tenantId, userId });
    if (before.active && changes.active === false) {
      await rotateSecurityStamp(tx, tenantId, userId, 'user_deactivated');
      await events.emit(tx, { type: 'user.deactivated', tenantId, userId });
    }
  }

  /** A new password rotates the security stamp: what the old one started ends (see `user.security_stamp_changed`). */
  async function writePassword(tx: Tx, tenantId: string, userId: string, password: { hash: string; mustChange: boolean; reason: StampReason; sessionId?: string | undefined }): Promise<void> {
    await store.setPassword(tx, tenantId, userId, password.hash, password.mustChange, clock.now());
    await events.emit(tx, { type: 'user.changed', tenantId, userId });
    await rotateSecurityStamp(tx, tenantId, userId, password.reason, password.sessionId);
  }

  async function findOrThrow(tx: Tx, tenantId: string, userId: string): Promise<Principal> {
    const row = await store.findUser(tx, tenantId, userId);
    // Users of other tenants are not found (RLS and the tenant filter), never forbidden.
    if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such user.' });
    return row;
  }

  function checkPassword(password: string, email: string): void {
    const problem = passwordProblem(password, { email });
    if (problem) throw new AppError(IdentityErrors['identity.password_policy'], { message: problem });
  }

  async function requireTenantAdmin(tx: Tx, tenantId: string, userId: string): Promise<void> {
    if (!(await store.isActiveTenantAdmin(tx, tenantId, userId))) {
      throw new AppError(IdentityErrors['identity.tenant_admin_required']);
    }
  }

  async function requireCurrentPassword(tx: Tx, tenantId: string, userId: string, password: string): Promise<void> {
    const hash = await store.passwordHashOf(tx, tenantId, userId);
    const ok = hash ? await passwords.verify(hash, password) : await passwords.verifyDummy(password);
    if (!ok) throw new AppError(IdentityErrors['identity.current_password_invalid']);
  }

  /** Product rule: a tenant always keeps an active tenant administrator (none could manage it otherwise). */
  async function keepOneTenantAdmin(tx: Tx, tenantId: string, target: Principal, after: { active: boolean; isTenantAdmin: boolean }) {
    const losesAdmin = target.active && target.isTenantAdmin && !(after.active && after.isTenantAdmin);
    if (!losesAdmin) return;
    const admins = await store.lockActiveTenantAdmins(tx, tenantId);
    if (admins.filter((id) => id !== target.id).length === 0) throw new AppError(IdentityErrors['identity.last_tenant_admin']);
  }

  /**
   * Before an administrative action that lets the actor act as the target or take over their credentials
   * (rbac's takeover rule, `rbac.target_exceeds_own_access`). Acting on oneself goes through the
   * self-service routes, which ask for the current password or a recent sign-in (NIST SP 800-63B §4.2.3
   * re-authentication): an administrator route would let a stolen access token skip that.
   */
  async function guardTakeover(tx: Tx, tenantId: string, actor: UserActor, target: Principal, change: Takeover): Promise<void> {
    if (target.id === actor.id) throw new AppError(IdentityErrors['identity.self_service_required']);
    const actorIsTenantAdmin = await store.isActiveTenantAdmin(tx, tenantId, actor.id);
    await takeover.assertMayActAs(tx, { tenantId, actorId: actor.id, targetId: target.id, actorIsTenantAdmin, targetIsTenantAdmin: target.isTenantAdmin }, change);
  }

  async function insert(tx: Tx, tenantId: string, input: NewUserInput & { passwordHash: string | null }) {
    const now = clock.now();
    const id = newId(now.getTime());
    try {
      await store.insertUser(tx, tenantId, {
        id,
        email: input.email.trim(),
        name: input.name ?? null,
        phone: input.phone ?? null,
        passwordHash: input.passwordHash,
        mustChangePassword: input.mustChangePassword ?? false,
        isTenantAdmin: input.isTenantAdmin ?? false,
        createdAt: now,
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError(IdentityErrors['identity.email_taken'], { cause: error });
      throw error;
    }
    return id;
  }

  /**
   * Runs `work`, a unit of work that checks the caller's current password (POST /me/password, POST
   * /me/mfa/disable), under login's throttle per user (DESIGN §4), so that a stolen access token cannot
   * keep guessing: each guess is reserved before the password is checked, so parallel guesses cannot all
   * pass; while blocked, refused before any password check, even with the right password
   * (`identity.too_many_password_attempts`; the first refusal of a window records
   * `user.current_password.throttled`); a wrong password stays counted, and the failure that locks records
   * `user.current_password.locked`; a right one clears the count. Call it with no unit of work open.
   */
  async function guardCurrentPassword<T>(tenantId: string, actor: UserActor, work: () => Promise<T>): Promise<T> {
    const subject = `current-password:${tenantId}:${actor.id}`;
    const event = (action: string) => (tx: Tx) =>
      audit.record(tx, tenantId, { action, actor, target: { type: 'user', id: actor.id }, outcome: 'failure', errorCode: IdentityErrors['identity.too_many_password_attempts'] });
    const admission = await guesses.reserve(tenantId, subject, event('user.current_password.throttled'));
    if (!admission.admitted) throw new AppError(IdentityErrors['identity.too_many_password_attempts'], { detail: { retryAfterSeconds: admission.retryAfterSeconds } });
    let result: T;
    try {
      result = await work();
    } catch (error) {
      if (isAppError(error) && error.code === IdentityErrors['identity.current_password_invalid']) {
        await guesses.failed(tenantId, admission.locksOnFailure, event('user.current_password.locked'));
      } else {
        // Refused for another reason (before or after the check): this attempt is not a wrong guess.
        await guesses.refund(subject);
      }
      throw error;
    }
    await guesses.succeeded(subject);
    return result;
  }

  return {
    /** The user events (user-events.ts), for other features to subscribe to at composition. */
    events: events as UserEvents,

    // ---- Called by other features inside their own unit of work (the `tx` says so). ----

    /** Creates a user in the caller's unit of work (bootstrap); the password is stored only as an argon2id hash. */
    async createUser(
      tx: Tx,
      tenantId: string,
      input: { email: string; name?: string | null; password?: string; mustChangePassword?: boolean; isTenantAdmin?: boolean },
    ) {
      const passwordHash = input.password === undefined ? null : await passwords.hash(input.password);
      return { id: await insert(tx, tenantId, { ...input, passwordHash }) };
    },
    findUserByEmail: store.findUserByEmail,
    requireTenantAdmin,

    /** The tenant's domain rule for a user's email (`identity.email_domain_mismatch`), for writers outside identity's own use cases (SCIM). */
    async assertEmailDomainAllowed(tx: Tx, tenantId: string, email: string): Promise<void> {
      if (!emailDomainAllowed(await securitySettings(tx, tenantId), email)) throw new AppError(IdentityErrors['identity.email_domain_mismatch']);
    },

    /**
     * A change pushed by a provisioning directory (SCIM, the IdP being the source of truth), in the caller's
     * unit of work: the sign-in email, the name, the status. The rules of an administrator's change hold: the
     * email stays unique in the tenant (`identity.email_taken`) and in its allowed domains (`identity.email_domain_mismatch`), the tenant keeps an active tenant administrator
     * (`identity.last_tenant_admin`) and each account an Account Administrator (`rbac.last_account_admin`).
     * Deactivation rotates the security stamp and emits `user.deactivated` (writeUser): every session, refresh
     * token and login-phase token of the user stops working on the next request. Reactivation restores sign-in
     * only. The caller audits.
     */
    async applyDirectoryChange(tx: Tx, tenantId: string, userId: string, changes: { email?: string | undefined; name?: string | null | undefined; active?: boolean | undefined }): Promise<void> {
      const target = await findOrThrow(tx, tenantId, userId);
      const email = changes.email?.trim();
      const patch: store.UserChanges = {
        ...(email !== undefined && email !== target.email ? { email } : {}),
        ...(changes.name !== undefined && changes.name !== target.name ? { name: changes.name } : {}),
        ...(changes.active !== undefined && changes.active !== target.active ? { active: changes.active } : {}),
      };
      if (Object.keys(patch).length === 0) return;
      if (patch.email !== undefined) {
        if (!emailDomainAllowed(await securitySettings(tx, tenantId), patch.email)) throw new AppError(IdentityErrors['identity.email_domain_mismatch']);
        const holder = await store.findUserByEmail(tx, tenantId, patch.email);
        if (holder && holder.id !== userId) throw new AppError(IdentityErrors['identity.email_taken']);
      }
      await keepOneTenantAdmin(tx, tenantId, target, { active: patch.active ?? target.active, isTenantAdmin: target.isTenantAdmin });
      const update = () => writeUser(tx, tenantId, target, patch);
      if (target.active && patch.active === false) await takeover.withAccountAdminsKept(tx, tenantId, { userId }, update);
      else await update();
    },
    requireCurrentPassword,
    rotateSecurityStamp,

    /** A user in the caller's unit of work (`not_found` when absent). */
    async getUser(tx: Tx, tenantId: string, userId: string): Promise<User> {
      return toUser(await findOrThrow(tx, tenantId, userId));
    },

    /** The takeover rule for another feature's administrative action on a user (the MFA reset). */
    async guardTakeover(tx: Tx, tenantId: string, actor: UserActor, userId: string, change: Takeover): Promise<void> {
      await guardTakeover(tx, tenantId, actor, await findOrThrow(tx, tenantId, userId), change);
    },

    /** Runs an administrative action's unit of work; a takeover refusal is audited in a unit of work of its own. */
    refusalsRecorded: <T>(tenantId: string, actor: UserActor, work: (tx: Tx) => Promise<T>): Promise<T> => takeover.refusalsRecorded(tenantId, actor, work),

    /**
     * Step-up (NIST SP 800-63B §4.2.3 re-authentication; the product rule for MFA setup and revoke-all): runs
     * `work` in a unit of work opened by `unit` when the caller proved it is still the user: with the
     * current password (checked in that unit of work, under the current-password throttle), or, without
     * one, with an authentication no older than 5 minutes (`sessions.step_up_required` otherwise). Call it with no
     * unit of work open.
     */
    async guardStepUp<T>(
      tenantId: string,
      actor: UserActor,
      proof: StepUpProof,
      unit: (work: (tx: Tx) => Promise<T>) => Promise<T>,
      work: (tx: Tx) => Promise<T>,
    ): Promise<T> {
      const password = proof.currentPassword;
      if (password === undefined) {
        requireRecentAuthentication(proof.authTime, Math.floor(clock.now().getTime() / 1000));
        return unit(work);
      }
      return guardCurrentPassword(tenantId, actor, () =>
        unit(async (tx) => {
          await requireCurrentPassword(tx, tenantId, actor.id, password);
          return work(tx);
        }),
      );
    },
    guardCurrentPassword,

    /**
     * The forced change at login (the user's password is one-time or was reset): the new password must pass
     * the policy; must-change is cleared, the security stamp rotated (every session of the user ends), audited.
     */
    async completeForcedPasswordChange(tx: Tx, tenantId: string, actor: UserActor, newPassword: string): Promise<void> {
      const me = await findOrThrow(tx, tenantId, actor.id);
      checkPassword(newPassword, me.email);
      await writePassword(tx, tenantId, actor.id, { hash: await passwords.hash(newPassword), mustChange: false, reason: 'password_changed' });
      await audit.record(tx, tenantId, { action: 'user.password_changed', actor, target: { type: 'user', id: actor.id }, outcome: 'success', details: { forced: true } });
    },

    // ---- Use cases the routes call: each opens its own unit of work. ----

    listUsers(tenantId: string, query: store.UserQuery) {
      return db.tenantWork(tenantId, async (tx) => {
        const { items, total } = await store.listUsers(tx, tenantId, query);
        return { items: items.map(toUser), total, limit: query.limit, offset: query.offset };
      });
    },

    readUser(tenantId: string, userId: string): Promise<User> {
      return db.tenantWork(tenantId, async (tx) => toUser(await findOrThrow(tx, tenantId, userId)));
    },

    /** GET /me: the caller's profile from the principal the request's own session read returned (no query). */
    ownProfile(principal: Principal): User {
      return toUser(principal);
    },

    /** An administrator creates a user: domain rule, password policy, unique email; `user.created` audited. */
    adminCreateUser(tenantId: string, actor: UserActor, input: NewUserInput): Promise<User> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const email = input.email.trim();
        if (!emailDomainAllowed(await securitySettings(tx, tenantId), email)) throw new AppError(IdentityErrors['identity.email_domain_mismatch']);
        if (input.password !== undefined) checkPassword(input.password, email);
        if (await store.findUserByEmail(tx, tenantId, email)) throw new AppError(IdentityErrors['identity.email_taken']);
        const passwordHash = input.password === undefined ? null : await passwords.hash(input.password);
        const id = await insert(tx, tenantId, { ...input, email, passwordHash });
        await audit.record(tx, tenantId, {
          action: 'user.created',
          actor,
          target: { type: 'user', id },
          outcome: 'success',
          details: { email, isTenantAdmin: input.isTenantAdmin ?? false, hasPassword: passwordHash !== null },
        });
        return toUser(await findOrThrow(tx, tenantId, id));
      });
    },

    /**
     * Name, phone, active, tenant-admin flag. Deactivation revokes every session of the user at once.
     * Reactivation is a takeover (rbac's takeover rule); deactivation and demotion take access away and are
     * not, within the last-administrator rules. Only a tenant administrator reaches here, so only a tenant
     * administrator makes another one.
     */
    updateUser(tenantId: string, actor: UserActor, userId: string, patch: UserPatch): Promise<User> {
      return takeover.refusalsRecorded(tenantId, actor, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const target = await findOrThrow(tx, tenantId, userId);
        const after = { active: patch.active ?? target.active, isTenantAdmin: patch.isTenantAdmin ?? target.isTenantAdmin };
        if (userId === actor.id && target.active && !after.active) throw new AppError(IdentityErrors['identity.cannot_delete_self']);
        if (!target.active && after.active) await guardTakeover(tx, tenantId, actor, target, 'user.reactivate');
        await keepOneTenantAdmin(tx, tenantId, target, after);
        // Product rule: an account keeps an active Account Administrator (rbac's `rbac.last_account_admin`).
        const update = () => writeUser(tx, tenantId, target, patch);
        if (target.active && !after.active) await takeover.withAccountAdminsKept(tx, tenantId, { userId }, update);
        else await update();
        const before = toUser(target);
        const now = toUser(await findOrThrow(tx, tenantId, userId));
        const changes: Record<string, { from: unknown; to: unknown }> = {};
        for (const key of ['name', 'phone', 'active', 'isTenantAdmin'] as const) {
          if (before[key] !== now[key]) changes[key] = { from: before[key], to: now[key] };
        }
        if (Object.keys(changes).length > 0) {
          await audit.record(tx, tenantId, {
            action: target.active && !now.active ? 'user.deactivated' : 'user.updated',
            actor,
            target: { type: 'user', id: userId },
            outcome: 'success',
            details: { changes },
          });
        }
        return now;
      });
    },

    /** "Delete" deactivates: the user can no longer sign in and every session ends at once. */
    deactivateUser(tenantId: string, actor: UserActor, userId: string): Promise<void> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        if (userId === actor.id) throw new AppError(IdentityErrors['identity.cannot_delete_self']);
        const target = await findOrThrow(tx, tenantId, userId);
        await keepOneTenantAdmin(tx, tenantId, target, { active: false, isTenantAdmin: target.isTenantAdmin });
        if (!target.active) return;
        await takeover.withAccountAdminsKept(tx, tenantId, { userId }, () => writeUser(tx, tenantId, target, { active: false }));
        await audit.record(tx, tenantId, { action: 'user.deactivated', actor, target: { type: 'user', id: userId }, outcome: 'success' });
      });
    },

    /**
     * Sets a new password (or generates a one-time one, returned once) and revokes every session of the user.
     * By default the user must change it at the next login. A takeover (rbac's takeover rule).
     */
    resetPassword(
      tenantId: string,
      actor: UserActor,
      userId: string,
      input: { password?: string | undefined; mustChangePassword?: boolean | undefined },
    ): Promise<{ generatedPassword?: string }> {
      return takeover.refusalsRecorded(tenantId, actor, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const target = await findOrThrow(tx, tenantId, userId);
        await guardTakeover(tx, tenantId, actor, target, 'user.password_reset');
        const generated = input.password === undefined ? generatePassword() : undefined;
        const password = input.password ?? generated!;
        if (!generated) checkPassword(password, target.email);
        const mustChange = input.mustChangePassword ?? true;
        await writePassword(tx, tenantId, userId, { hash: await passwords.hash(password), mustChange, reason: 'password_reset' });
        await audit.record(tx, tenantId, {
          action: 'user.password_reset',
          actor,
          target: { type: 'user', id: userId },
          outcome: 'success',
          details: { generated: generated !== undefined, mustChangePassword: mustChange },
        });
        return generated ? { generatedPassword: generated } : {};
      });
    },

    /** PATCH /me: the caller's own name and phone. */
    updateProfile(tenantId: string, actor: UserActor, patch: { name?: string | null | undefined; phone?: string | null | undefined }): Promise<User> {
      return db.tenantWork(tenantId, async (tx) => {
        const target = await findOrThrow(tx, tenantId, actor.id);
        const before = toUser(target);
        await writeUser(tx, tenantId, target, { name: patch.name, phone: patch.phone });
        const after = toUser(await findOrThrow(tx, tenantId, actor.id));
        const changes: Record<string, { from: unknown; to: unknown }> = {};
        for (const key of ['name', 'phone'] as const) if (before[key] !== after[key]) changes[key] = { from: before[key], to: after[key] };
        if (Object.keys(changes).length > 0) {
          await audit.record(tx, tenantId, { action: 'user.updated', actor, target: { type: 'user', id: actor.id }, outcome: 'success', details: { changes } });
        }
        return after;
      });
    },

    /**
     * The caller's own password, under the current-password throttle: the current one is required; every
     * other session of the user is revoked, the one that made the change stays.
     */
    changeOwnPassword(tenantId: string, actor: UserActor, sessionId: string | null, input: { currentPassword: string; newPassword: string }): Promise<void> {
      return guardCurrentPassword(tenantId, actor, () =>
        db.tenantWork(tenantId, async (tx) => {
          const me = await findOrThrow(tx, tenantId, actor.id);
          await requireCurrentPassword(tx, tenantId, actor.id, input.currentPassword);
          checkPassword(input.newPassword, me.email);
          await writePassword(tx, tenantId, actor.id, { hash: await passwords.hash(input.newPassword), mustChange: false, reason: 'password_changed', sessionId: sessionId ?? undefined });
          await audit.record(tx, tenantId, { action: 'user.password_changed', actor, target: { type: 'user', id: actor.id }, outcome: 'success' });
        }),
      );
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
