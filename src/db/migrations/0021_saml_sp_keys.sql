-- SAML service-provider keys (saml-metadata §2.4.1.1 KeyDescriptor): Tessera generates, per SAML connection, an
-- RSA key pair and a self-signed certificate that signs its AuthnRequests and decrypts the IdP's encrypted
-- assertions. `saml_sp_keys` is `{"keys": [...]}`, the current key first, a previous one kept until an
-- administrator removes it (rotation with two keys overlapping: both published, both tried for decryption).
-- Each key holds its id, certificate (public), creation time, and `privateKeyEnc`: the PKCS#8 private key,
-- AES-256-GCM under the tenant's data key (keyring field `sso.saml_sp_key/<connection id>/<key id>`, so a
-- ciphertext copied to another connection, key or tenant fails to decrypt), base64. Never returned by the API.
ALTER TABLE sso_connections ADD COLUMN saml_sp_keys jsonb;
