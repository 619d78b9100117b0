import type { ColumnType } from 'kysely';

/**
 * Kysely's view of the audit tables (src/db/migrations/0002_audit.sql is the source of truth), merged into
 * the shared `DB` interface so the audit store is type-checked like every other store.
 */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface AuditEventsTable {
  tenant_id: string;
  seq: number;
  occurred_at: Timestamp;
  actor_type: string;
  actor_id: string | null;
  actor_email: string | null;
  actor_ip: string | null;
  actor_user_agent: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: string;
  error_code: string | null;
  details: ColumnType<Record<string, unknown>, string, never>;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadsTable {
  tenant_id: string;
  last_seq: number;
  last_hash: string;
  last_at: Timestamp | null;
}

export interface AuditCheckpointsTable {
  tenant_id: string;
  seq: number;
  hash: string;
  occurred_at: Timestamp;
  removed: number;
  created_at: Timestamp;
}

export interface AuditSettingsTable {
  tenant_id: string;
  retention_days: ColumnType<number, number | undefined, number>;
  webhook_url: string | null;
  webhook_secret_enc: Uint8Array | null;
  updated_at: Timestamp;
}

export interface AuditOutboxTable {
  tenant_id: string;
  seq: number;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
}

declare module '../../db/schema.js' {
  interface DB {
    audit_events: AuditEventsTable;
    audit_heads: AuditHeadsTable;
    audit_checkpoints: AuditCheckpointsTable;
    audit_settings: AuditSettingsTable;
    audit_outbox: AuditOutboxTable;
  }
}
