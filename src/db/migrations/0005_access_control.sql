-- Access control (issue 4): the applications' permission catalog, role templates, groups and their members,
-- group assignments, assignment expiry, API keys, and the triggers that keep the account authorization
-- epoch (DESIGN §3) moving in the same transaction as every change to who may do what.

-- Keys an application registers for itself in an account (Tessera's own keys live in code). Account-owned,
-- like roles: visible to every tenant linked to the account.
CREATE TABLE permission_catalog (
  account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  key          text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$' AND length(key) <= 100),
  category     text NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
  description  text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (account_id, key)
);

-- Role templates an application registers with its catalog (Tessera's own templates live in code).
CREATE TABLE role_templates (
  account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  key          text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]*$' AND length(key) <= 100),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description  text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  permissions  text[] NOT NULL,
  PRIMARY KEY (account_id, key)
);

-- The catalog's version per account: moves with every change that is not a repeat of the current one.
CREATE TABLE permission_catalog_versions (
  account_id  uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  version     integer NOT NULL,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE groups (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id           uuid NOT NULL,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description  text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX groups_name_key ON groups (tenant_id, lower(name));

CREATE TABLE group_members (
  tenant_id   uuid NOT NULL,
  group_id    uuid NOT NULL,
  user_id     uuid NOT NULL,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, group_id, user_id),
  FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_user_idx ON group_members (tenant_id, user_id);

-- An assignment's principal is a user or a group of the same tenant. `expired_at` is set by the expiry job
-- (the assignment already stopped counting at `expires_at`; the job records it and keeps the row).
ALTER TABLE role_assignments ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE role_assignments ADD COLUMN group_id uuid;
ALTER TABLE role_assignments ADD COLUMN expired_at timestamptz;
ALTER TABLE role_assignments ADD CONSTRAINT role_assignments_one_principal CHECK ((user_id IS NULL) <> (group_id IS NULL));
ALTER TABLE role_assignments ADD CONSTRAINT role_assignments_group_fk FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE;
CREATE INDEX role_assignments_group_idx ON role_assignments (tenant_id, group_id) WHERE group_id IS NOT NULL;
CREATE INDEX role_assignments_expiry_idx ON role_assignments (expires_at) WHERE expires_at IS NOT NULL AND expired_at IS NULL;

-- API keys of an account, created by a user of one of its tenants. Only the SHA-256 of the key is kept.
CREATE TABLE api_keys (
  tenant_id     uuid NOT NULL,
  id            uuid NOT NULL,
  account_id    uuid NOT NULL,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  key_hash      bytea NOT NULL,
  permissions   text[] NOT NULL,
  created_by    uuid,
  created_at    timestamptz NOT NULL,
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, account_id) REFERENCES account_tenants (tenant_id, account_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (tenant_id, key_hash);

ALTER TABLE permission_catalog ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_isolation ON permission_catalog USING (tessera_account_visible(account_id));
ALTER TABLE role_templates ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_isolation ON role_templates USING (tessera_account_visible(account_id));
ALTER TABLE permission_catalog_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_isolation ON permission_catalog_versions USING (tessera_account_visible(account_id));
ALTER TABLE groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON groups USING (tenant_id = tessera_current_tenant());
ALTER TABLE group_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON group_members USING (tenant_id = tessera_current_tenant());
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON permission_catalog, role_templates, permission_catalog_versions, groups, group_members TO tessera_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO tessera_app;

-- A membership change moves the epoch of every account where the group holds an assignment.
CREATE FUNCTION tessera_bump_epoch_group_members() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  r record;
BEGIN
  r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  UPDATE accounts SET authz_epoch = authz_epoch + 1
   WHERE id IN (SELECT account_id FROM role_assignments WHERE tenant_id = r.tenant_id AND group_id = r.group_id);
  RETURN NULL;
END
$$;
CREATE TRIGGER group_members_authz_epoch AFTER INSERT OR DELETE ON group_members
  FOR EACH ROW EXECUTE FUNCTION tessera_bump_epoch_group_members();

-- A user's status change moves the epoch of every account where the user holds an assignment, directly
-- or through a group.
CREATE FUNCTION tessera_bump_epoch_user_status() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  UPDATE accounts SET authz_epoch = authz_epoch + 1
   WHERE id IN (
     SELECT account_id FROM role_assignments WHERE tenant_id = NEW.tenant_id AND user_id = NEW.id
     UNION
     SELECT ra.account_id FROM role_assignments ra
       JOIN group_members gm ON gm.tenant_id = ra.tenant_id AND gm.group_id = ra.group_id
      WHERE gm.tenant_id = NEW.tenant_id AND gm.user_id = NEW.id);
  RETURN NULL;
END
$$;
CREATE TRIGGER users_status_authz_epoch AFTER UPDATE OF active ON users
  FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active) EXECUTE FUNCTION tessera_bump_epoch_user_status();

-- How many active users hold the account's Account Administrator role through an assignment that does not
-- expire, directly or through a group, in every tenant linked to the account (an account may serve several
-- tenants, whose rows the caller's row-level security hides). An expiring assignment never counts, so
-- expiry can never take the last administrator away. Answers only for an account the caller's tenant is
-- linked to.
CREATE FUNCTION tessera_account_admin_count(p_account uuid) RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT count(DISTINCT u.tenant_id::text || '/' || u.id::text)
      FROM roles r
      JOIN role_assignments ra ON ra.account_id = r.account_id AND ra.role_id = r.id
      LEFT JOIN group_members gm ON gm.tenant_id = ra.tenant_id AND gm.group_id = ra.group_id
      JOIN users u ON u.tenant_id = ra.tenant_id AND u.id = coalesce(ra.user_id, gm.user_id)
     WHERE r.account_id = p_account AND r.system_key = 'account_admin'
       AND u.active AND ra.expires_at IS NULL
       AND tessera_account_visible(p_account)
  $$;

REVOKE ALL ON FUNCTION tessera_account_admin_count(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_account_admin_count(uuid) TO tessera_app;

-- The expiry job works across tenants: it finds due assignments without a tenant context.
CREATE FUNCTION tessera_due_assignments(p_now timestamptz, p_limit integer)
  RETURNS TABLE (tenant_id uuid, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT tenant_id, id FROM role_assignments
     WHERE expires_at IS NOT NULL AND expires_at <= p_now AND expired_at IS NULL
     ORDER BY expires_at LIMIT p_limit
  $$;
REVOKE ALL ON FUNCTION tessera_due_assignments(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_due_assignments(timestamptz, integer) TO tessera_app;
