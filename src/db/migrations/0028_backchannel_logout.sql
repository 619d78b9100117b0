-- OpenID Connect Back-Channel Logout 1.0 (docs/openid-provider.md). An application may register the URI that
-- receives Logout Tokens (§2.2 `backchannel_logout_uri`) and whether it needs `sid` (`backchannel_logout_session_required`).
ALTER TABLE applications ADD COLUMN backchannel_logout_uri text;
ALTER TABLE applications ADD COLUMN backchannel_logout_session_required boolean NOT NULL DEFAULT false;

-- The outbox: one row per (ended session, application that signed in during it), written in the transaction that
-- ended the session, so no logout is lost to a crash or a restart; delivered by whichever instance claims it
-- (advisory lock, lease), retried with backoff, given up after a bounded time (audited). No token is stored: the
-- Logout Token is signed at each attempt.
CREATE TABLE backchannel_logout_outbox (
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id              uuid NOT NULL,
  application_id  uuid NOT NULL,
  client_id       text NOT NULL,
  user_id         uuid NOT NULL,
  session_id      uuid NOT NULL,
  created_at      timestamptz NOT NULL,
  next_attempt_at timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, session_id, application_id),
  FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX backchannel_logout_outbox_due ON backchannel_logout_outbox (next_attempt_at);

ALTER TABLE backchannel_logout_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON backchannel_logout_outbox USING (tenant_id = tessera_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON backchannel_logout_outbox TO tessera_app;
