-- PLACEHOLDER on the sso-connections branch only: the verified-domains branch ships the real 0012_domains.sql.
-- At the merge, take that branch's file and its lock entry; this one exists so that 0013 has no numbering gap.
SELECT 1;
