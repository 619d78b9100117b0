-- SCIM 2.0 /Groups (RFC 7643 §4.2) and a directory's group → role mappings. Tenant-owned, like 0019: tenant_id
-- leads every primary key, row-level security admits only the unit of work's tenant.
--
-- A SCIM group IS an identity group (groups, identity's): its members are identity's group_members rows, written
-- through identity's service; this row holds what only SCIM knows (displayName as the IdP spells it, externalId,
-- the rest of the resource without members, its version for ETags). Deleting the identity group deletes it.
CREATE TABLE scim_groups (
  tenant_id     uuid NOT NULL,
  directory_id  uuid NOT NULL,
  group_id      uuid NOT NULL,
  display_name  text NOT NULL,
  external_id   text,
  resource      jsonb NOT NULL,
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, directory_id, group_id),
  FOREIGN KEY (tenant_id, directory_id) REFERENCES scim_directories (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX scim_groups_group_key ON scim_groups (tenant_id, group_id);
-- displayName is unique per directory, case-insensitively (RFC 7643 §4.2 leaves it to the provider; Okta and
-- Entra ID match groups by it).
CREATE UNIQUE INDEX scim_groups_display_name_key ON scim_groups (tenant_id, directory_id, lower(display_name));
CREATE INDEX scim_groups_external_id ON scim_groups (tenant_id, directory_id, external_id);

-- Group → role mappings of a directory, as the configuring administrator set them (checked then through the grant
-- rule). position: the order the administrator gave. group_name null: the default role every user of the directory holds ("everyone else → member"). The roles
-- are given as assignments to the identity groups, managed by `scim:<directoryId>` (role_assignments.managed_by).
CREATE TABLE scim_role_mappings (
  tenant_id     uuid NOT NULL,
  directory_id  uuid NOT NULL,
  id            uuid NOT NULL,
  group_name    text CHECK (group_name IS NULL OR length(group_name) BETWEEN 1 AND 200),
  role_id       uuid NOT NULL,
  position      integer NOT NULL,
  created_by    uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, directory_id, id),
  FOREIGN KEY (tenant_id, directory_id) REFERENCES scim_directories (tenant_id, id) ON DELETE CASCADE
);

-- The identity group holding every user of the directory, created when a default role is configured.
ALTER TABLE scim_directories ADD COLUMN everyone_group_id uuid;
ALTER TABLE scim_directories ADD FOREIGN KEY (tenant_id, everyone_group_id) REFERENCES groups (tenant_id, id) ON DELETE SET NULL (everyone_group_id);

ALTER TABLE scim_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_groups USING (tenant_id = tessera_current_tenant());
ALTER TABLE scim_role_mappings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_role_mappings USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON scim_groups, scim_role_mappings TO tessera_app;
