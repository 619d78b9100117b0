-- Applications: the product's own apps that sign users in through Tessera's OpenID Provider (docs/openid-provider.md).
-- Tenant-owned, scoped to one account: only sessions in that account obtain tokens for it. The client id carries the
-- tenant id (`tc1.<tenant id>.<application id>`) so the provider routes a lookup to the tenant's unit of work.
-- A client secret is shown once; only its SHA-256 is kept (DESIGN §4: credentials we issue are stored as hashes).
CREATE TABLE applications (
  tenant_id                  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                         uuid NOT NULL,
  account_id                 uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  client_id                  text NOT NULL UNIQUE,
  name                       text NOT NULL,
  type                       text NOT NULL CHECK (type IN ('spa', 'web', 'native', 'machine')),
  first_party                boolean NOT NULL DEFAULT true,
  redirect_uris              text[] NOT NULL DEFAULT '{}',
  post_logout_redirect_uris  text[] NOT NULL DEFAULT '{}',
  allowed_origins            text[] NOT NULL DEFAULT '{}',
  token_endpoint_auth_method text NOT NULL CHECK (token_endpoint_auth_method IN ('none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt')),
  secret_hash                bytea,
  jwks                       jsonb,
  scopes                     text[] NOT NULL,
  access_token_ttl_seconds   integer NOT NULL CHECK (access_token_ttl_seconds BETWEEN 60 AND 86400),
  refresh_token_ttl_seconds  integer NOT NULL CHECK (refresh_token_ttl_seconds BETWEEN 300 AND 31536000),
  created_by                 uuid,
  created_at                 timestamptz NOT NULL,
  updated_at                 timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX applications_account ON applications (tenant_id, account_id);

ALTER TABLE applications ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON applications USING (tenant_id = tessera_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON applications TO tessera_app;

-- oidc-provider's own state (interactions, OP sessions, authorization codes, opaque access and refresh tokens,
-- grants). Global, like login_throttles: the library looks an artefact up by its id alone, before any tenant is
-- known. Ids are stored only as SHA-256 (`id_hash`, `uid_hash`): a database read yields no usable token.
-- `tenant_id` names the application's tenant where one is known (for deletion with the tenant and distribution).
CREATE TABLE oidc_provider_artifacts (
  model       text NOT NULL,
  id_hash     bytea NOT NULL,
  tenant_id   uuid,
  grant_id    text,
  uid_hash    bytea,
  payload     jsonb NOT NULL,
  expires_at  timestamptz NOT NULL,
  consumed_at timestamptz,
  PRIMARY KEY (model, id_hash)
);
CREATE INDEX oidc_provider_artifacts_grant ON oidc_provider_artifacts (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_provider_artifacts_uid ON oidc_provider_artifacts (model, uid_hash) WHERE uid_hash IS NOT NULL;
CREATE INDEX oidc_provider_artifacts_expiry ON oidc_provider_artifacts (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON oidc_provider_artifacts TO tessera_app;
