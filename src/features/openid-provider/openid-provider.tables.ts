import type { ColumnType } from 'kysely';

/** Kysely's view of the table the openid-provider feature owns (src/db/migrations/0026_applications.sql is the source of truth). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** jsonb: read as the value, written as its JSON text. */
type Json<T> = ColumnType<T, string, string>;

export interface OidcProviderArtifactsTable {
  model: string;
  id_hash: Uint8Array;
  tenant_id: string | null;
  grant_id: string | null;
  uid_hash: Uint8Array | null;
  payload: Json<Record<string, unknown>>;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
}

declare module '../../db/schema.js' {
  interface DB {
    oidc_provider_artifacts: OidcProviderArtifactsTable;
  }
}

/** The back-channel logout outbox (src/db/migrations/0028_backchannel_logout.sql). */
export interface BackchannelLogoutOutboxTable {
  tenant_id: string;
  id: string;
  application_id: string;
  client_id: string;
  user_id: string;
  session_id: string;
  created_at: Timestamp;
  next_attempt_at: Timestamp;
  attempts: ColumnType<number, number | undefined, number>;
  last_error: string | null;
}

declare module '../../db/schema.js' {
  interface DB {
    backchannel_logout_outbox: BackchannelLogoutOutboxTable;
  }
}
