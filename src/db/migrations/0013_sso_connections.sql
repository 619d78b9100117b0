-- Enterprise SSO connections (DESIGN §4, §6 features/sso): any number per tenant, each an identity source of
-- the login pipeline. Tenant-owned: tenant_id leads the primary key, row-level security admits only the unit of
-- work's tenant, and tessera_app gets only the privileges it uses.
--
-- `config` holds the type's non-secret settings (for `oidc`: issuer, client id, auth method, scopes, pinned
-- id_token alg, CA bundle). The client secret lives only in `client_secret_enc`: AES-256-GCM under the tenant's
-- data key (keyring field `sso.client_secret/<connection id>`, so a ciphertext copied to another connection or
-- tenant fails to decrypt). `discovery` is the issuer's OpenID Provider metadata as last fetched (OpenID Connect
-- Discovery 1.0 §4), public data cached with its fetch time.
-- `domains` are names as entered (normalised, lowercase ASCII); sign-in will use only those verified for the
-- tenant. `default_role_id` / `rules` name roles of accounts linked to the tenant (checked by the service).
CREATE TABLE sso_connections (
  tenant_id              uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                     uuid NOT NULL,
  type                   text NOT NULL CHECK (type IN ('oidc', 'saml')),
  name                   text NOT NULL,
  enabled                boolean NOT NULL DEFAULT false,
  domains                text[] NOT NULL DEFAULT '{}',
  default_role_id        uuid,
  rules_mode             text NOT NULL DEFAULT 'highest_match' CHECK (rules_mode IN ('highest_match', 'additive')),
  rules                  jsonb NOT NULL DEFAULT '[]',
  claim_mapping          jsonb NOT NULL DEFAULT '{}',
  mfa_policy             jsonb NOT NULL DEFAULT '{}',
  config                 jsonb NOT NULL,
  client_secret_enc      bytea,
  discovery              jsonb,
  discovery_fetched_at   timestamptz,
  created_by             uuid,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_by             uuid,
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX sso_connections_name_key ON sso_connections (tenant_id, lower(name));

ALTER TABLE sso_connections ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sso_connections USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON sso_connections TO tessera_app;
