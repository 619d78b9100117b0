import type { Tx } from '../../db/database.js';

/**
 * The contract every feature records audit events through (DESIGN §6 rule 7): in the same transaction as
 * the change, so no change lands without its event and no event outlives a rolled-back change.
 * Secrets never go into `details`.
 */
export type AuditActor =
  | { readonly type: 'user'; readonly id: string | null; readonly email?: string | null; readonly ip?: string | null; readonly userAgent?: string | null }
  | { readonly type: 'api_key'; readonly id: string; readonly ip?: string | null; readonly userAgent?: string | null }
  | { readonly type: 'scim_directory'; readonly id: string; readonly ip?: string | null; readonly userAgent?: string | null }
  | { readonly type: 'setup_link'; readonly id: string; readonly onBehalfOf: string | null; readonly ip?: string | null; readonly userAgent?: string | null }
  | { readonly type: 'system'; readonly id: string };

/**
 * Who changes a tenant's configuration: a signed-in user, or a setup link (the customer's IT admin holding it,
 * README "Setup links"). A link acts within what its creator (`onBehalfOf`) holds now — the tenant-administrator
 * rule and the grant rule are checked against that user — while the audit log names the link (`setup_link:<id>`).
 * `onBehalfOf` is null for a link the operator created from the CLI.
 */
export type ConfiguringActor = Extract<AuditActor, { type: 'user' }> & { readonly id: string } | Extract<AuditActor, { type: 'setup_link' }>;

/** The user a configuring actor acts as (for the tenant-administrator and grant rules, and `created_by` columns). */
export function actingUserId(actor: ConfiguringActor): string | null {
  return actor.type === 'user' ? actor.id : actor.onBehalfOf;
}

export interface AuditEventInput {
  /** Stable dotted name, e.g. `auth.login.succeeded`, `user.created`, `keys.signing_key.rotated`. */
  readonly action: string;
  readonly actor: AuditActor;
  readonly target?: { readonly type: string; readonly id: string } | null;
  readonly outcome: 'success' | 'failure';
  /** The stable error code of a failure. */
  readonly errorCode?: string | null;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AuditRecorder {
  /** Appends one event to the tenant's hash chain inside the caller's unit of work for `tenantId`. */
  record(tx: Tx, tenantId: string, event: AuditEventInput): Promise<void>;
}

/** A change that concerns every tenant (global signing keys) is recorded in each tenant's chain. */
export interface GlobalAuditRecorder extends AuditRecorder {
  /** Appends the event to every tenant's chain inside the caller's owner transaction; returns how many. */
  recordInEveryTenant(tx: Tx, event: AuditEventInput): Promise<number>;
}
