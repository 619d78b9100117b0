-- SCIM role mappings on the enterprise User extension's `department` (RFC 7643 §4.3): a mapping names either a
-- SCIM group's displayName (group_name) or a department (department), never both; both null is the default role.
--
-- A mapped department is given through an identity group the directory manages (department_group_id), whose
-- members are the directory's users with that department (trimmed, case-insensitive); its role is an assignment
-- managed by `scim:<directoryId>`, like a group mapping's. Mappings of one department share the group. Deleting
-- the identity group (by hand) leaves the mapping without a group until the next PUT of the mappings.
ALTER TABLE scim_role_mappings ADD COLUMN department text CHECK (department IS NULL OR length(department) BETWEEN 1 AND 200);
ALTER TABLE scim_role_mappings ADD COLUMN department_group_id uuid;
ALTER TABLE scim_role_mappings ADD CONSTRAINT scim_role_mappings_group_or_department CHECK (group_name IS NULL OR department IS NULL);
ALTER TABLE scim_role_mappings ADD FOREIGN KEY (tenant_id, department_group_id) REFERENCES groups (tenant_id, id) ON DELETE SET NULL (department_group_id);
