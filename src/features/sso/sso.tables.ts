import type { ColumnType } from 'kysely';

/** Kysely's view of the tables the sso feature owns (src/db/migrations/0013_sso_connections.sql and 0015_sso_client_keys.sql are the source of truth). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** jsonb: read as the value, written as its JSON text. */
type Json<T> = ColumnType<T, string, string>;

export interface SsoConnectionsTable {
  tenant_id: string;
  id: string;
  type: string;
  name: string;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  domains: string[];
  default_role_id: string | null;
  rules_mode: string;
  rules: Json<unknown[]>;
  claim_mapping: Json<Record<string, unknown>>;
  mfa_policy: Json<Record<string, unknown>>;
  config: Json<Record<string, unknown>>;
  client_secret_enc: Uint8Array | null;
  /** 0015: the public JWK Set for private_key_jwt, the current key first. */
  client_jwks: Json<{ keys: Record<string, unknown>[] }> | null;
  /** 0015: the current private key (a JWK), encrypted. */
  client_key_enc: Uint8Array | null;
  /** 0020: SAML SP key pairs, the current first; each private key encrypted (saml-sp-keys.ts StoredSpKey). */
  saml_sp_keys: Json<{ keys: Record<string, unknown>[] }> | null;
  discovery: Json<Record<string, unknown>> | null;
  discovery_fetched_at: Timestamp | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_by: string | null;
  updated_at: Timestamp;
}

declare module '../../db/schema.js' {
  interface DB {
    sso_connections: SsoConnectionsTable;
  }
}

export interface SsoIdentitiesTable {
  tenant_id: string;
  connection_id: string;
  subject: string;
  user_id: string;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_login_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/** A SAML login, by what the IdP's LogoutRequest names it (migration 0022); sessions point at it by `source_id`. */
export interface SsoLoginsTable {
  tenant_id: string;
  id: string;
  connection_id: string;
  user_id: string;
  name_id: string;
  name_id_format: string | null;
  session_index: string | null;
  created_at: ColumnType<Date, Date | string, Date | string>;
}

declare module '../../db/schema.js' {
  interface DB {
    sso_identities: SsoIdentitiesTable;
    sso_logins: SsoLoginsTable;
  }
}

/** Test-connection outcomes (0016_sso_connection_tests.sql). */
export interface SsoConnectionTestsTable {
  tenant_id: string;
  id: string;
  connection_id: string;
  started_by: string;
  status: string;
  outcome: Json<Record<string, unknown>> | null;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/** Break-glass users of a Require-SSO tenant (migration 0018). */
export interface SsoBreakGlassUsersTable {
  tenant_id: string;
  user_id: string;
  created_by: string | null;
  created_at: ColumnType<Date, Date | string, Date | string>;
}

/** The tenant's SSO settings: the returnTo allow-list (migration 0018). */
export interface SsoSettingsTable {
  tenant_id: string;
  allowed_return_origins: string[];
  updated_by: string | null;
  updated_at: ColumnType<Date, Date | string, Date | string>;
}

declare module '../../db/schema.js' {
  interface DB {
    sso_connection_tests: SsoConnectionTestsTable;
    sso_break_glass_users: SsoBreakGlassUsersTable;
    sso_settings: SsoSettingsTable;
  }
}
