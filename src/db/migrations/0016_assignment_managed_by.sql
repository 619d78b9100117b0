-- Which identity source manages a role assignment: null for an assignment a person made (the API, the CLI,
-- bootstrap), `sso:<connectionId>` for one an SSO connection's mapping rules made. A connection re-evaluates its
-- rules at every sign-in and adds or removes only the assignments it manages; hand-made ones are never touched.
ALTER TABLE role_assignments ADD COLUMN managed_by text CHECK (managed_by IS NULL OR length(managed_by) BETWEEN 1 AND 200);
CREATE INDEX role_assignments_managed_idx ON role_assignments (tenant_id, managed_by, user_id) WHERE managed_by IS NOT NULL;
