import { describe, expect, it } from 'vitest';
import { configSnippet, createBody, formOf, lifetimeOf, NEW_APPLICATION, originProblem, parseJwks, redirectUriProblem, resourceProblem, updateBody, validate } from '../../console/src/console/pages/application-form.js';
import { APPLICATION_SCOPES, CreateApplicationBody, UpdateApplicationBody } from '../../src/features/applications/applications.schema.js';
import * as server from '../../src/features/applications/redirect-uris.js';

/**
 * The Applications page checks its form before sending it (console/src/console/pages/application-form.ts). Those
 * checks must refuse exactly what the API refuses, or the page would block a valid application or let the API answer
 * an error the form could have named.
 */
describe('the Applications form', () => {
  it("checks redirect URIs, origins and API identifiers with the API's own rules (redirect-uris.ts), not a copy", () => {
    expect(redirectUriProblem).toBe(server.redirectUriProblem);
    expect(originProblem).toBe(server.originProblem);
    expect(resourceProblem).toBe(server.resourceProblem);
  });

  it('names the API identifiers the API would refuse (RFC 8707 resources)', () => {
    const base = { ...NEW_APPLICATION, name: 'x', redirectUris: 'https://a.example.com/cb' };
    expect(validate({ ...base, resources: 'https://api.example.com/\nhttps://api.example.com/' }, true).resources).toBe('An API identifier is listed twice.');
    expect(validate({ ...base, resources: Array.from({ length: 11 }, (_, i) => `urn:example:api${i}`).join('\n') }, true).resources).toBe('At most 10.');
    expect(createBody({ ...base, resources: ' urn:example:reports \n\nhttps://api.example.com/' }).resources).toEqual(['urn:example:reports', 'https://api.example.com/']);
  });

  it('offers the scopes the API accepts', () => {
    expect(validate({ ...NEW_APPLICATION, name: 'x', redirectUris: 'https://a.example.com/cb', scopes: [...APPLICATION_SCOPES] }, true)).toEqual({});
  });

  it('names each field the API would refuse', () => {
    const errors = validate({ ...NEW_APPLICATION, name: ' ', redirectUris: '', scopes: ['email'], accessTtl: { value: 30, unit: 'seconds' }, refreshTtl: { value: 400, unit: 'days' } }, true);
    expect(Object.keys(errors).sort()).toEqual(['accessTtl', 'name', 'redirectUris', 'refreshTtl', 'scopes']);
    expect(validate({ ...NEW_APPLICATION, name: 'x', redirectUris: 'https://a.example.com/cb\nhttp://evil.example.com/cb' }, true).redirectUris).toBe('http://evil.example.com/cb: http is allowed only on a loopback address.');
    expect(validate({ ...NEW_APPLICATION, name: 'x', redirectUris: Array.from({ length: 21 }, (_, i) => `https://a.example.com/${i}`).join('\n') }, true).redirectUris).toBe('At most 20.');
    expect(validate({ ...NEW_APPLICATION, name: 'x'.repeat(201), redirectUris: 'https://a.example.com/cb' }, true).name).toBe('At most 200 characters.');
    // A machine application has no redirect URIs, scopes or refresh tokens: nothing of them is checked or sent.
    expect(validate({ ...NEW_APPLICATION, type: 'machine', name: 'job', scopes: [] }, true)).toEqual({});
  });

  it('accepts only a JSON Web Key Set of public keys for private_key_jwt', () => {
    const base = { ...NEW_APPLICATION, name: 'x', redirectUris: 'https://a.example.com/cb', authMethod: 'private_key_jwt' as const };
    expect(validate({ ...base, jwks: '' }, true).jwks).toBe('Not valid JSON.');
    expect(validate({ ...base, jwks: '{"keys": [' }, true).jwks).toBe('Not valid JSON.');
    expect(validate({ ...base, jwks: '[]' }, true).jwks).toBe('Give a JSON Web Key Set: {"keys": [ … ]}.');
    expect(validate({ ...base, jwks: '{"keys": []}' }, true).jwks).toBe('Give 1 to 10 keys.');
    expect(validate({ ...base, jwks: '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}' }, true).jwks).toBe('Key 1: kty must be RSA, EC or OKP.');
    expect(validate({ ...base, jwks: '{"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}]}' }, true).jwks).toBe('Key 1 contains private key material: give the public key only.');
    const good = '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}';
    expect(validate({ ...base, jwks: good }, true)).toEqual({});
    // Editing keeps the stored keys when the field is left empty.
    expect(validate({ ...base, jwks: '' }, false)).toEqual({});
    // What the form sends, the API's own schema accepts.
    const body = createBody({ ...base, jwks: good });
    expect(CreateApplicationBody.safeParse(body).success).toBe(true);
    expect(parseJwks(good)).toEqual({ jwks: JSON.parse(good) as unknown });
  });

  it('sends bodies the API schema accepts, each type with only its own fields', () => {
    for (const type of ['spa', 'web', 'native', 'machine'] as const) {
      const form = { ...NEW_APPLICATION, type, name: `App ${type}`, redirectUris: 'https://a.example.com/cb', allowedOrigins: 'https://a.example.com', scopes: type === 'machine' ? [] : NEW_APPLICATION.scopes };
      const body = createBody(form);
      expect(CreateApplicationBody.safeParse(body).success, type).toBe(true);
      expect('redirectUris' in body, type).toBe(type !== 'machine');
      expect('allowedOrigins' in body, type).toBe(type === 'spa');
      expect('tokenEndpointAuthMethod' in body, type).toBe(type === 'web' || type === 'machine');
      expect('backchannelLogoutUri' in body, type).toBe(type === 'web');
      expect(UpdateApplicationBody.safeParse(updateBody(form)).success, type).toBe(true);
    }
  });

  it('checks a web app\'s back-channel logout URI by the rules of its redirect URIs, empty meaning none', () => {
    const base = { ...NEW_APPLICATION, name: 'x', redirectUris: 'https://a.example.com/cb' };
    expect(validate({ ...base, backchannelLogoutUri: 'http://a.example.com/bc' }, true).backchannelLogoutUri).toBe('http://a.example.com/bc: http is allowed only on a loopback address.');
    expect(validate({ ...base, backchannelLogoutUri: 'https://a.example.com/bc#x' }, true).backchannelLogoutUri).toBe('https://a.example.com/bc#x: has a fragment.');
    expect(validate({ ...base, backchannelLogoutUri: 'https://a.example.com/bc' }, true)).toEqual({});
    expect(createBody({ ...base, backchannelLogoutUri: '  ' })).toMatchObject({ backchannelLogoutUri: null });
    expect(CreateApplicationBody.safeParse(createBody({ ...base, backchannelLogoutUri: 'https://a.example.com/bc', backchannelLogoutSessionRequired: true })).success).toBe(true);
  });

  it('shows lifetimes in their largest whole unit and converts them back to seconds', () => {
    expect(lifetimeOf(300)).toEqual({ value: 5, unit: 'minutes' });
    expect(lifetimeOf(1_209_600)).toEqual({ value: 14, unit: 'days' });
    expect(lifetimeOf(7200)).toEqual({ value: 2, unit: 'hours' });
    expect(lifetimeOf(90)).toEqual({ value: 90, unit: 'seconds' });
    const form = formOf({ name: 'a', type: 'web', firstParty: false, redirectUris: ['https://a.example.com/cb'], postLogoutRedirectUris: [], allowedOrigins: [], resources: ['urn:example:api'], backchannelLogoutUri: 'https://a.example.com/bc', backchannelLogoutSessionRequired: true, tokenEndpointAuthMethod: 'client_secret_post', scopes: ['openid'], accessTokenTtlSeconds: 600, refreshTokenTtlSeconds: 86_400 });
    expect(updateBody(form)).toMatchObject({ accessTokenTtlSeconds: 600, refreshTokenTtlSeconds: 86_400, firstParty: false, redirectUris: ['https://a.example.com/cb'], resources: ['urn:example:api'], backchannelLogoutUri: 'https://a.example.com/bc', backchannelLogoutSessionRequired: true });
  });

  it('configures openid-client with the client authentication the application was registered with', () => {
    const app = { clientId: 'tc1.t.a', redirectUris: ['https://a.example.com/cb'], scopes: ['openid', 'email'] };
    expect(configSnippet({ ...app, type: 'web', tokenEndpointAuthMethod: 'client_secret_basic' }, 'https://id.example.com')).toContain('client.ClientSecretBasic(process.env.CLIENT_SECRET)');
    expect(configSnippet({ ...app, type: 'web', tokenEndpointAuthMethod: 'client_secret_post' }, 'https://id.example.com')).toContain('client.ClientSecretPost(');
    const spa = configSnippet({ ...app, type: 'spa', tokenEndpointAuthMethod: 'none' }, 'https://id.example.com');
    expect(spa).toContain('client.None()');
    expect(spa).toContain("new URL('https://id.example.com')");
    expect(spa).toContain("redirect_uri: 'https://a.example.com/cb'");
    expect(configSnippet({ ...app, type: 'machine', tokenEndpointAuthMethod: 'private_key_jwt' }, 'https://id.example.com')).toContain('client.clientCredentialsGrant(config)');
  });
});
