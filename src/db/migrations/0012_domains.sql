-- Verified email domains of a tenant (DESIGN §6 features/domains): a domain proves the tenant controls it by
-- a DNS TXT record `tessera-verification=<token>` at `_tessera-verification.<domain>`. A verified domain
-- routes tenant-less logins and SSO discovery, so it belongs to one tenant at a time: the partial unique index
-- below admits one verified row per domain across every tenant, while any tenant may hold it pending.
CREATE TABLE domains (
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id               uuid NOT NULL,
  -- Normalised: lowercase A-labels (IDNA, RFC 5891), no trailing dot.
  domain           text NOT NULL CHECK (domain = lower(domain) AND length(domain) BETWEEN 3 AND 253),
  token            text NOT NULL CHECK (length(token) BETWEEN 16 AND 100),
  status           text NOT NULL CHECK (status IN ('pending', 'verified')),
  verified_at      timestamptz,
  -- How it was last verified: `dns` (the TXT record) or `operator` (tessera domains verify --force).
  verified_by      text CHECK (verified_by IN ('dns', 'operator')),
  last_checked_at  timestamptz,
  -- When the re-check job looks at it next; null: the job leaves it alone (an abandoned pending domain).
  next_check_at    timestamptz,
  -- Consecutive failed re-checks of a verified domain; it is unverified after a few (see the job).
  failures         integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  created_by       uuid,
  created_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  CHECK ((status = 'verified') = (verified_at IS NOT NULL))
);
CREATE UNIQUE INDEX domains_tenant_domain_key ON domains (tenant_id, domain);
CREATE UNIQUE INDEX domains_verified_key ON domains (domain) WHERE status = 'verified';
CREATE INDEX domains_next_check_idx ON domains (next_check_at) WHERE next_check_at IS NOT NULL;

ALTER TABLE domains ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON domains USING (tenant_id = tessera_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON domains TO tessera_app;

-- The tenant holding a domain verified, read without a tenant context (a tenant-less login, SSO discovery):
-- only the tenant id leaves the function, never another tenant's rows.
CREATE FUNCTION tessera_verified_domain_owner(p_domain text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM domains WHERE domain = p_domain AND status = 'verified' $$;

-- The re-check job works across tenants: it finds the domains due for a DNS check.
CREATE FUNCTION tessera_due_domains(p_now timestamptz, p_limit integer)
  RETURNS TABLE (tenant_id uuid, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT tenant_id, id FROM domains
     WHERE next_check_at IS NOT NULL AND next_check_at <= p_now
     ORDER BY next_check_at LIMIT p_limit
  $$;

REVOKE ALL ON FUNCTION tessera_verified_domain_owner(text), tessera_due_domains(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_verified_domain_owner(text), tessera_due_domains(timestamptz, integer) TO tessera_app;
