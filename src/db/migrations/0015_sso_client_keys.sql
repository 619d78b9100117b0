-- Client authentication by private_key_jwt (OpenID Connect Core §9, RFC 7523 §2.2) for SSO connections: Tessera
-- generates the connection's key pair itself. `client_jwks` is the public JWK Set published to the IdP (RFC 7517
-- §5), the current key first, previous ones kept until an administrator removes them (rotation with overlap).
-- `client_key_enc` is the current private key only (a JWK, JSON), AES-256-GCM under the tenant's data key like the
-- client secret (keyring field `sso.client_key/<connection id>/<kid>`); a previous key's private half is dropped
-- at rotation, since Tessera never signs with it again.
ALTER TABLE sso_connections ADD COLUMN client_jwks jsonb;
ALTER TABLE sso_connections ADD COLUMN client_key_enc bytea;
