-- Tenant slugs: the tenant-specific sign-in URL `/t/<slug>/login` names one tenant, so a person who is a user of
-- several tenants is never asked which one (product rule: hosted sign-in, tenant-specific login URL).
-- A slug is a DNS-label-like name (RFC 1035 §2.3.1 shape: lowercase letters, digits and inner hyphens, 2–63
-- characters), unique across tenants, and never one of the server's own first path segments.
ALTER TABLE tenants ADD COLUMN slug text;

-- Existing tenants get a slug from their name: lowercased, runs of other characters turned into one hyphen,
-- at most 50 characters; a name that gives nothing usable (or a reserved word) becomes `tenant`; the second and
-- later tenants of the same base name get a suffix from the random part of their id, the oldest keeping the bare base.
WITH base AS (
  SELECT id, created_at,
         trim(both '-' from left(trim(both '-' from regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')), 50)) AS b
    FROM tenants
), usable AS (
  SELECT id, created_at,
         CASE WHEN length(b) < 2 OR b IN ('api', 'auth', 'console', 'login', 'assets', 'scim', 't') THEN 'tenant' ELSE b END AS b
    FROM base
), ranked AS (
  SELECT id, b, row_number() OVER (PARTITION BY b ORDER BY created_at, id) AS n FROM usable
)
UPDATE tenants SET slug = CASE WHEN ranked.n = 1 THEN ranked.b ELSE ranked.b || '-' || right(replace(tenants.id::text, '-', ''), 8) END
  FROM ranked WHERE ranked.id = tenants.id;

-- A tenant inserted without a slug (operator tooling, fixtures) gets a random one; the application always sets one
-- from the name (tenants.service.ts).
ALTER TABLE tenants ALTER COLUMN slug SET DEFAULT ('tenant-' || substr(md5(random()::text), 1, 12));
ALTER TABLE tenants ALTER COLUMN slug SET NOT NULL;
ALTER TABLE tenants ADD CONSTRAINT tenants_slug_form
  CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$' AND slug NOT IN ('api', 'auth', 'console', 'login', 'assets', 'scim', 't'));
CREATE UNIQUE INDEX tenants_slug_key ON tenants (slug);

-- The tenant a slug names, read without a tenant context (the public sign-in page, a new tenant's slug check):
-- only the id and the name leave the function, never another tenant's other columns.
CREATE FUNCTION tessera_tenant_by_slug(p_slug text) RETURNS TABLE (id uuid, name text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT id, name FROM tenants WHERE slug = p_slug $$;

REVOKE ALL ON FUNCTION tessera_tenant_by_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_tenant_by_slug(text) TO tessera_app;
