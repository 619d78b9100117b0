-- Audit log: a per-tenant hash chain of governance events (issue 5).
-- Each event carries the previous event's hash and its own SHA-256 over a canonical form, so any edited,
-- deleted, inserted or reordered row is detected by `tessera audit verify`. The application role may only
-- read and append; UPDATE and DELETE are refused by privileges and by a trigger. Only the retention job
-- (run as the owner, through tessera_audit_retain) removes the oldest events, after storing a checkpoint.

-- One row per tenant: the head of its chain. Appends lock it FOR UPDATE, so concurrent transactions of one
-- tenant append one after the other and the chain stays gapless.
CREATE TABLE audit_heads (
  tenant_id  uuid PRIMARY KEY REFERENCES tenants (id),
  last_seq   bigint NOT NULL CHECK (last_seq >= 0),
  last_hash  text NOT NULL,
  last_at    timestamptz
);

CREATE TABLE audit_events (
  tenant_id         uuid NOT NULL,
  seq               bigint NOT NULL CHECK (seq > 0),
  occurred_at       timestamptz NOT NULL,
  actor_type        text NOT NULL,
  actor_id          text,
  actor_email       text,
  actor_ip          text,
  actor_user_agent  text,
  action            text NOT NULL,
  target_type       text,
  target_id         text,
  outcome           text NOT NULL CHECK (outcome IN ('success', 'failure')),
  error_code        text,
  details           jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash         text NOT NULL,
  hash              text NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_actor_idx ON audit_events (tenant_id, actor_id, seq);
CREATE INDEX audit_events_target_idx ON audit_events (tenant_id, target_type, target_id, seq);

-- Where the retained chain starts: the sequence number and hash of the last event retention removed.
CREATE TABLE audit_checkpoints (
  tenant_id    uuid NOT NULL,
  seq          bigint NOT NULL,
  hash         text NOT NULL,
  occurred_at  timestamptz NOT NULL,
  removed      bigint NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);

-- Per-tenant audit settings: retention (7 years by default) and the optional SIEM webhook, whose signing
-- secret is encrypted with the tenant's data key (keyring field `audit.webhook_secret`).
CREATE TABLE audit_settings (
  tenant_id           uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  retention_days      integer NOT NULL DEFAULT 2557 CHECK (retention_days BETWEEN 1 AND 36500),
  webhook_url         text CHECK (length(webhook_url) <= 2000),
  webhook_secret_enc  bytea,
  updated_at          timestamptz NOT NULL
);

-- Durable outbox of events still to be delivered to the tenant's webhook (written in the event's transaction).
CREATE TABLE audit_outbox (
  tenant_id        uuid NOT NULL,
  seq              bigint NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  last_error       text,
  created_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_outbox_due_idx ON audit_outbox (next_attempt_at);

-- Append-only: no UPDATE, no DELETE, no TRUNCATE, even for the owner, except a DELETE inside
-- tessera_audit_retain (which sets tessera.audit_retention for its own statement).
CREATE FUNCTION tessera_audit_append_only() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('tessera.audit_retention', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION tessera_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION tessera_audit_append_only();

-- Retention: removes, oldest first, at most p_limit events older than p_cutoff (only a prefix of the chain),
-- storing a checkpoint of the last removed event first so the remaining chain still verifies.
-- Serialized with appends through the head row. Not granted to the application role.
CREATE FUNCTION tessera_audit_retain(p_tenant uuid, p_cutoff timestamptz, p_limit integer, p_now timestamptz) RETURNS bigint
  LANGUAGE plpgsql
  AS $$
DECLARE
  r record;
  v_seq bigint;
  v_hash text;
  v_at timestamptz;
  v_n bigint := 0;
BEGIN
  PERFORM 1 FROM audit_heads WHERE tenant_id = p_tenant FOR UPDATE;
  FOR r IN SELECT seq, hash, occurred_at FROM audit_events WHERE tenant_id = p_tenant ORDER BY seq LIMIT p_limit LOOP
    EXIT WHEN r.occurred_at >= p_cutoff;
    v_seq := r.seq;
    v_hash := r.hash;
    v_at := r.occurred_at;
    v_n := v_n + 1;
  END LOOP;
  IF v_seq IS NULL THEN
    RETURN 0;
  END IF;
  INSERT INTO audit_checkpoints (tenant_id, seq, hash, occurred_at, removed, created_at)
    VALUES (p_tenant, v_seq, v_hash, v_at, v_n, p_now);
  PERFORM set_config('tessera.audit_retention', 'on', true);
  DELETE FROM audit_events WHERE tenant_id = p_tenant AND seq <= v_seq;
  PERFORM set_config('tessera.audit_retention', '', true);
  RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION tessera_audit_retain(uuid, timestamptz, integer, timestamptz) FROM PUBLIC;

ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_heads USING (tenant_id = tessera_current_tenant());
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events USING (tenant_id = tessera_current_tenant());
ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_checkpoints USING (tenant_id = tessera_current_tenant());
ALTER TABLE audit_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_settings USING (tenant_id = tessera_current_tenant());
ALTER TABLE audit_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_outbox USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT ON audit_events TO tessera_app;
GRANT SELECT, INSERT, UPDATE ON audit_heads, audit_settings TO tessera_app;
GRANT SELECT ON audit_checkpoints TO tessera_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_outbox TO tessera_app;
