/**
 * The administrative actions on a user that access control's takeover rule judges (rbac's grant-rule.ts
 * decides; identity names its own actions). The takeover rule (same product rule, OWASP A01:2021 / CWE-269; NIST SP 800-53 AC-6 least privilege): an
 * administrative action that lets the actor act AS another user or take over their credentials gives the
 * actor everything the target holds, so it is judged like a grant of the target's access to the actor.
 * It is refused unless the actor holds, in every account where the target holds access, each of the
 * target's permissions in the same scope and for at least as long (`covers`), and Account Administrator
 * where the target holds it; a tenant administrator's credentials are taken over only by a tenant
 * administrator. A deactivated target is judged by what its assignments give once reactivated.
 * Removing access (deactivating, ending sessions, demoting) takes nothing and is not subject to it.
 */
export type Takeover =
  /** POST /users/{id}/reset-password: the actor chooses, or is shown, the target's new password. */
  | 'user.password_reset'
  /** DELETE /users/{id}/mfa: the next login with the password enrolls whichever authenticator is presented. */
  | 'user.mfa_reset'
  /** Changing a user's email moves where reset links and one-time passwords go (no admin route does it yet). */
  | 'user.email_change'
  /** PATCH /users/{id} `active: true`: revives credentials the actor may know (an earlier reset). */
  | 'user.reactivate';

/** The subject of a takeover check: who acts, on whom, and both users' tenant-administrator flags (identity's). */
export interface TakeoverAttempt {
  readonly tenantId: string;
  readonly actorId: string;
  readonly targetId: string;
  readonly actorIsTenantAdmin: boolean;
  readonly targetIsTenantAdmin: boolean;
}

