-- The APIs (RFC 8707 resource indicators) an application may obtain JWT access tokens for (RFC 9068,
-- docs/openid-provider.md). The first is the default audience of a token request that names none; with none
-- registered, the default audience is the application's own client id.
ALTER TABLE applications ADD COLUMN resources text[] NOT NULL DEFAULT '{}';
