import type { Database } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';

/** What the access-control feature needs from others (DESIGN §6 rule 4). */
export interface RbacDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
}

/** Who acts: a signed-in user, an operator command, or a job. */
export type RbacActor = Extract<AuditActor, { type: 'user' | 'system' }>;

/**
 * On whose authority a change is made, for the grant rule: a user's own access; none for the system actor
 * (operator commands and jobs act with the installation's authority, not a user's).
 */
export function granterOf(tenantId: string, actor: RbacActor): { tenantId: string; userId: string } | null {
  if (actor.type === 'system') return null;
  // A user actor without an id holds nothing: the nil UUID matches no assignment.
  return { tenantId, userId: actor.id ?? '00000000-0000-0000-0000-000000000000' };
}

/** The caller's context: tenant and the account of its session. */
export interface Scope {
  readonly tenantId: string;
  readonly accountId: string;
}

/**
 * This process's own record of access changes. On PostgreSQL the account epoch read on every request
 * carries changes made by any instance; on the embedded database that read is served from memory, so every
 * change made here (all of them: one process) also moves this counter, and cached permissions built before
 * it are not used again.
 */
export interface LocalChanges {
  generation: number;
}

