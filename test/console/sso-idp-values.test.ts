import { describe, expect, it } from 'vitest';
import { type ConnectionView as Connection, IDPS, refreshChanges, valuesToPaste } from '../../console/src/console/pages/sso-idp-values.js';

const base = {
  id: 'c1', name: 'Corp', enabled: true, domains: [], defaultRoleId: null, rulesMode: 'highest_match', rules: [], hasClientSecret: false,
  createdBy: null, createdAt: '2026-01-01T00:00:00.000Z', updatedBy: null, updatedAt: '2026-01-01T00:00:00.000Z',
} as const;
const discovery = {
  fetchedAt: '2026-01-01T00:00:00.000Z', authorizationEndpoint: 'https://idp.test/authorize', tokenEndpoint: 'https://idp.test/token', userinfoEndpoint: null,
  jwksUri: 'https://idp.test/jwks', endSessionEndpoint: null, idTokenSigningAlgValuesSupported: ['RS256'], issParameterSupported: true,
};
const oidc = (method: string): Connection =>
  ({
    ...base, type: 'oidc', saml: null, clientJwks: { keys: [] }, clientJwksUri: 'https://iam.test/auth/sso/connections/c1/jwks.json', clientPublicKeyPem: '-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n',
    redirectUri: 'https://iam.test/auth/sso/oidc/callback',
    oidc: { issuer: 'https://idp.test', clientId: 'x', tokenEndpointAuthMethod: method, clientKeyAlg: 'ES256', clientAssertionAudience: 'token_endpoint', scopes: 'openid', caBundlePem: null, idTokenSignedResponseAlg: 'RS256', discovery },
  }) as unknown as Connection;
const cert = (fingerprintSha256: string, subject: string) => ({ fingerprintSha256, subject, notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' });
const saml = (certificates = [cert('AA:BB:CC:DD:EE:FF:00:11:22', 'CN=idp-a')]): Connection =>
  ({
    ...base, type: 'saml', oidc: null, clientJwks: null, clientJwksUri: null, clientPublicKeyPem: null, redirectUri: null,
    saml: { idpEntityId: 'https://idp.test/metadata', ssoUrl: 'https://idp.test/sso', ssoBinding: 'redirect', sloUrl: null, metadataUrl: null, metadataFetchedAt: null, certificates, spEntityId: 'https://iam.test/auth/sso/saml/c1/metadata', acsUrl: 'https://iam.test/auth/sso/saml/acs/c1', spMetadataUrl: 'https://iam.test/auth/sso/saml/c1/metadata', spKeys: [] },
  }) as unknown as Connection;

// The values to paste at each IdP carry that IdP's field names (docs/sso/<idp>.md, docs/sso/saml.md "Where" table).
describe('the values to paste at the identity provider', () => {
  it('names the redirect URI as each IdP does, and every IdP of docs/sso/ gets one', () => {
    const fields = Object.fromEntries(IDPS.map((i) => [i.value, valuesToPaste(i.value, oidc('client_secret_basic')).values.map((v) => v.field)]));
    expect(fields).toEqual({
      generic: ['Redirect URI'], okta: ['Sign-in redirect URI'], entra: ['Redirect URI (Web)'], google: ['Authorized redirect URI'],
      auth0: ['Allowed Callback URLs'], keycloak: ['Valid redirect URIs'], adfs: ['Redirect URI (server application)'],
    });
    for (const i of IDPS) expect(valuesToPaste(i.value, oidc('client_secret_basic')).values[0]!.value).toBe('https://iam.test/auth/sso/oidc/callback');
  });

  it('private_key_jwt: the JWKS URL where the IdP fetches it, the PEM for Auth0, a note where the IdP takes neither', () => {
    expect(valuesToPaste('okta', oidc('private_key_jwt')).values.map((v) => v.testId)).toEqual(['sp-redirect-uri', 'sp-jwks-url']);
    expect(valuesToPaste('keycloak', oidc('private_key_jwt')).values[1]).toMatchObject({ value: 'https://iam.test/auth/sso/connections/c1/jwks.json' });
    expect(valuesToPaste('auth0', oidc('private_key_jwt')).values[1]).toMatchObject({ testId: 'sp-public-key-pem', value: expect.stringContaining('BEGIN PUBLIC KEY') as string });
    for (const idp of ['entra', 'google', 'adfs'] as const) {
      const { values, notes } = valuesToPaste(idp, oidc('private_key_jwt'));
      expect(values.map((v) => v.testId)).toEqual(['sp-redirect-uri']);
      expect(notes.join(' ')).toContain('use a client secret');
    }
    // No key values for a connection that authenticates with a secret.
    expect(valuesToPaste('okta', oidc('client_secret_post')).values).toHaveLength(1);
  });

  it('SAML: the ACS URL and entity ID under each IdP\'s names', () => {
    const entra = valuesToPaste('entra', saml()).values;
    expect(entra.map((v) => [v.field, v.value])).toEqual([
      ['Reply URL (Assertion Consumer Service URL)', 'https://iam.test/auth/sso/saml/acs/c1'],
      ['Identifier (Entity ID)', 'https://iam.test/auth/sso/saml/c1/metadata'],
      ['SP metadata URL', 'https://iam.test/auth/sso/saml/c1/metadata'],
    ]);
    expect(valuesToPaste('okta', saml()).values.map((v) => v.field)).toEqual(['Single sign-on URL', 'Audience URI (SP Entity ID)', 'SP metadata URL']);
    expect(valuesToPaste('adfs', saml()).values.map((v) => v.field)).toEqual(['SAML Assertion Consumer Endpoint (POST)', 'Relying party trust identifier', 'Federation metadata address (import)']);
  });
});

describe('what a refresh of the IdP document changed', () => {
  it('nothing, when the IdP publishes the same', () => {
    expect(refreshChanges(oidc('client_secret_basic'), oidc('client_secret_basic'))).toEqual([]);
    expect(refreshChanges(saml(), saml())).toEqual([]);
  });

  it('the OIDC endpoints and algorithms that changed, before and after', () => {
    const after = oidc('client_secret_basic');
    after.oidc!.discovery = { ...discovery, tokenEndpoint: 'https://idp.test/v2/token', idTokenSigningAlgValuesSupported: ['RS256', 'ES256'] };
    expect(refreshChanges(oidc('client_secret_basic'), after)).toEqual([
      { what: 'Token endpoint', before: 'https://idp.test/token', after: 'https://idp.test/v2/token' },
      { what: 'id_token signing algorithms', before: 'RS256', after: 'RS256, ES256' },
    ]);
  });

  it('the SAML signing certificates, by subject and fingerprint', () => {
    const changes = refreshChanges(saml(), saml([cert('11:22:33:44:55:66:77:88:99', 'CN=idp-b'), cert('AA:BB:CC:DD:EE:FF:00:11:22', 'CN=idp-a')]));
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ what: 'Signing certificates', before: 'CN=idp-a (AA:BB:CC:DD:EE:FF…)' });
    expect(changes[0]!.after).toContain('CN=idp-b');
  });
});
