import type { ColumnType } from 'kysely';

/** Kysely's view of the table the applications feature owns (src/db/migrations/0026_applications.sql is the source of truth). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** jsonb: read as the value, written as its JSON text. */
type Json<T> = ColumnType<T, string, string>;

export interface ApplicationsTable {
  tenant_id: string;
  id: string;
  account_id: string;
  client_id: string;
  name: string;
  type: 'spa' | 'web' | 'native' | 'machine';
  first_party: boolean;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  allowed_origins: string[];
  token_endpoint_auth_method: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  secret_hash: Uint8Array | null;
  jwks: Json<{ keys: Record<string, unknown>[] }> | null;
  scopes: string[];
  /** Defaults to none (0027_application_resources.sql). */
  resources: ColumnType<string[], string[] | undefined, string[]>;
  backchannel_logout_uri: ColumnType<string | null, string | null | undefined, string | null>;
  backchannel_logout_session_required: ColumnType<boolean, boolean | undefined, boolean>;
  access_token_ttl_seconds: number;
  refresh_token_ttl_seconds: number;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

declare module '../../db/schema.js' {
  interface DB {
    applications: ApplicationsTable;
  }
}
