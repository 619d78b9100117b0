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
