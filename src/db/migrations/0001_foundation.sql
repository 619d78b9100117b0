-- Foundation: tenants, accounts, organizations, users, minimal roles and assignments, data keys, signing keys.
-- Tenant isolation is enforced twice (DESIGN §4): every query filters by tenant, and row-level security
-- below makes the database refuse rows of any tenant but the one the unit of work set in
-- `tessera.tenant_id`. Requests run as `tessera_app`, which owns nothing, so RLS always applies to them.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera_app') THEN
    BEGIN
      CREATE ROLE tessera_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another database of the same cluster created it at the same moment
    END;
  END IF;
  IF NOT pg_has_role(current_user, 'tessera_app', 'MEMBER') THEN
    EXECUTE format('GRANT tessera_app TO %I', current_user);
  END IF;
END
$$;

-- The tenant of the current unit of work, or NULL outside one (which then sees no tenant rows).
CREATE FUNCTION tessera_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('tessera.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- An account may serve more than one tenant (a service provider serving customers).
CREATE TABLE account_tenants (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, account_id)
);
CREATE INDEX account_tenants_account_idx ON account_tenants (account_id);

-- Whether the current tenant is linked to an account: the row-level rule of account-owned tables.
CREATE FUNCTION tessera_account_visible(acc uuid) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$ SELECT EXISTS (SELECT 1 FROM account_tenants WHERE tenant_id = tessera_current_tenant() AND account_id = acc) $$;

CREATE TABLE organizations (
  account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  id          uuid NOT NULL,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX organizations_name_key ON organizations (account_id, lower(name));

CREATE TABLE users (
  tenant_id             uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                    uuid NOT NULL,
  email                 text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  name                  text CHECK (length(name) <= 200),
  phone                 text CHECK (length(phone) <= 40),
  password_hash         text,
  must_change_password  boolean NOT NULL DEFAULT false,
  is_tenant_admin       boolean NOT NULL DEFAULT false,
  active                boolean NOT NULL DEFAULT true,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
-- Email is unique per tenant, case-insensitively.
CREATE UNIQUE INDEX users_email_key ON users (tenant_id, lower(email));

CREATE TABLE roles (
  account_id       uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  id               uuid NOT NULL,
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description      text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  organization_id  uuid,
  system_key       text,
  permissions      text[] NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, id),
  FOREIGN KEY (account_id, organization_id) REFERENCES organizations (account_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX roles_system_key ON roles (account_id, system_key) WHERE system_key IS NOT NULL;
CREATE UNIQUE INDEX roles_name_key ON roles (account_id, lower(name));

-- An assignment belongs to the tenant of its principal (a user belongs to exactly one tenant).
CREATE TABLE role_assignments (
  tenant_id   uuid NOT NULL,
  id          uuid NOT NULL,
  account_id  uuid NOT NULL,
  role_id     uuid NOT NULL,
  user_id     uuid NOT NULL,
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, account_id) REFERENCES account_tenants (tenant_id, account_id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, role_id) REFERENCES roles (account_id, id)
);
CREATE INDEX role_assignments_user_idx ON role_assignments (tenant_id, user_id);
CREATE INDEX role_assignments_role_idx ON role_assignments (account_id, role_id);

-- Per-tenant data keys, wrapped (AES-256-GCM) by the master key named by master_key_id.
CREATE TABLE tenant_keys (
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  version        integer NOT NULL CHECK (version > 0),
  wrapped_key    bytea NOT NULL,
  master_key_id  text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, version)
);

-- Token signing keys (global). The private key is encrypted under the master key; publish_until is when a
-- retired key leaves the JWKS (after every token it signed has expired).
CREATE TABLE signing_keys (
  kid              text PRIMARY KEY,
  alg              text NOT NULL CHECK (alg IN ('RS256', 'ES256', 'EdDSA')),
  public_jwk       jsonb NOT NULL,
  private_key_enc  bytea NOT NULL,
  master_key_id    text NOT NULL,
  created_at       timestamptz NOT NULL,
  retired_at       timestamptz,
  publish_until    timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((true)) WHERE retired_at IS NULL;

-- Row-level security, one policy per table. Not FORCEd: the owner (operator commands: migrate, bootstrap,
-- keys rotate) works across tenants; requests never run as the owner.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (id = tessera_current_tenant());

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_read ON accounts FOR SELECT USING (tessera_account_visible(id));
CREATE POLICY account_update ON accounts FOR UPDATE USING (tessera_account_visible(id));
CREATE POLICY account_delete ON accounts FOR DELETE USING (tessera_account_visible(id));
-- A new account is linked to the creating tenant in the same unit of work (account_tenants' own policy).
CREATE POLICY account_insert ON accounts FOR INSERT WITH CHECK (tessera_current_tenant() IS NOT NULL);

ALTER TABLE account_tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON account_tenants USING (tenant_id = tessera_current_tenant());

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_isolation ON organizations USING (tessera_account_visible(account_id));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users USING (tenant_id = tessera_current_tenant());

ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_isolation ON roles USING (tessera_account_visible(account_id));

ALTER TABLE role_assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON role_assignments USING (tenant_id = tessera_current_tenant());

ALTER TABLE tenant_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_keys USING (tenant_id = tessera_current_tenant());

-- Privileges of the application role. It owns nothing; signing keys and wrapped data keys are written
-- only by operator commands (and by the unit of work that creates a tenant).
GRANT USAGE ON SCHEMA public TO tessera_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, accounts, account_tenants, organizations, users, roles, role_assignments TO tessera_app;
GRANT SELECT, INSERT ON tenant_keys TO tessera_app;
GRANT SELECT ON signing_keys, tessera_migrations TO tessera_app;
GRANT EXECUTE ON FUNCTION tessera_current_tenant(), tessera_account_visible(uuid) TO tessera_app;
