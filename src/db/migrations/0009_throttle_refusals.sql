-- Login throttles reserve each attempt before its secret is checked (one INSERT … ON CONFLICT DO UPDATE per
-- key that refuses while the key is blocked). The first refusal of each 15-minute window is audited once
-- (`auth.login.throttled`) so that a SIEM sees a brute force in progress before the lock: the counter row
-- records when that first refusal happened; an UPDATE … WHERE first_refused_at IS NULL lets exactly one of
-- many parallel refusals claim it. The window's restart clears it. login_throttles is a global table keyed
-- by hashes (no tenant data), already granted to tessera_app.
ALTER TABLE login_throttles ADD COLUMN first_refused_at timestamptz;
