-- Organizations are listed, searched and counted by the thousand in one account. The policy of 0001 calls
-- tessera_account_visible() for every row (a SQL function holding EXISTS is never inlined), which made a
-- page of 50 out of 10,000 organizations cost a pass of 10,000 function calls. The same rule written as
-- a subquery is evaluated once per statement. Same meaning: rows of accounts linked to the unit of work's
-- tenant, for reads and writes alike.
DROP POLICY account_isolation ON organizations;
CREATE POLICY account_isolation ON organizations
  USING (account_id IN (SELECT at.account_id FROM account_tenants at WHERE at.tenant_id = tessera_current_tenant()));

-- Pages are in name order (GET /api/v1/organizations): read them from an index instead of sorting the account.
CREATE INDEX organizations_account_name_idx ON organizations (account_id, name, id);
