import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely's view of the session tables (src/db/migrations/0003_sessions.sql is the source of truth), merged
 * into the shared `DB` interface.
 */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface SessionsTable {
  tenant_id: string;
  id: string;
  user_id: string;
  account_id: string;
  amr: string[];
  user_agent: string | null;
  ip: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Date | null;
  revoked_reason: string | null;
  /** When the user authenticated for this session (OIDC Core §2 `auth_time`); null before migration 0008. */
  auth_time: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Migration 0022: the identity-source login this session comes from (sso's record), so the source's logout can end it. */
  source_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface RefreshTokensTable {
  tenant_id: string;
  token_hash: Uint8Array;
  session_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  rotated_at: Date | null;
  successor_enc: Uint8Array | null;
}

/** Spent identity, MFA-challenge and password-change token ids, kept until the token expires. */
export interface UsedTokensTable {
  tenant_id: string;
  jti: string;
  expires_at: Timestamp;
}

export interface LoginThrottlesTable {
  key: Uint8Array;
  failures: number;
  window_started_at: Timestamp;
  blocked_until: Date | null;
  /** The first refused attempt of the current window (audited once), if any (migration 0009). */
  first_refused_at: Generated<Date | null>;
}

declare module '../../db/schema.js' {
  interface DB {
    sessions: SessionsTable;
    refresh_tokens: RefreshTokensTable;
    login_throttles: LoginThrottlesTable;
    used_tokens: UsedTokensTable;
  }
}
