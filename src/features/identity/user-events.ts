import type { EventSource } from '../../kernel/events.js';
import type { Tx } from '../../db/database.js';

/**
 * Why a user's security stamp moved. Every reason ends the login-phase tokens issued before (the stamp, migration
 * 0008); a subscriber decides what else follows (the sessions feature ends the sessions a password started).
 */
export type StampReason = 'password_changed' | 'password_reset' | 'user_deactivated' | 'mfa_changed' | 'sessions_revoked';

/**
 * What identity tells other features about a user, emitted inside the transaction of the write, by identity's
 * own write path (identity.service.ts `writeUser`, `writePassword`, `rotateSecurityStamp`), once per write:
 * no caller can forget it. Subscribers act in the same transaction (src/kernel/events.ts).
 */
export type UserEvent =
  /** The user's record (the principal: profile, flags, password) changed: anything cached from it is stale. */
  | { readonly type: 'user.changed'; readonly tenantId: string; readonly userId: string }
  /** The user went from active to inactive: nothing the user holds may keep working. */
  | { readonly type: 'user.deactivated'; readonly tenantId: string; readonly userId: string }
  /**
   * The user's security stamp was rotated. `sessionId`: the session the change was made from, when the user
   * made it themselves (a password change keeps it).
   */
  | { readonly type: 'user.security_stamp_changed'; readonly tenantId: string; readonly userId: string; readonly reason: StampReason; readonly sessionId?: string };

export type UserEvents = EventSource<UserEvent, Tx>;
