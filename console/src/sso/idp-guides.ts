/**
 * What the console and the setup link's pages tell an administrator about each identity provider: how the IdP names
 * our values and theirs, and the guide shipped in docs/sso/. One table for both pages (plain data: no DOM, no React).
 * The wording follows the guides (docs/sso/*.md), which are the reference.
 */
export type IdpProtocol = 'oidc' | 'saml';

export interface IdpGuide {
  readonly id: string;
  readonly label: string;
  readonly protocol: IdpProtocol;
  /** The guide in docs/sso/, when one ships. */
  readonly doc: string | null;
  /** Creating the app at the IdP, step by step; `{redirectUri}`, `{entityId}`, `{acsUrl}`, `{metadataUrl}` are our values. */
  readonly steps: readonly string[];
  /** OIDC: the issuer's form at this IdP (exactly as it spells it). */
  readonly issuerHint?: string;
}

export const IDP_GUIDES: readonly IdpGuide[] = [
  {
    id: 'okta', label: 'Okta', protocol: 'oidc', doc: 'okta.md', issuerHint: 'https://<your-org>.okta.com (or …/oauth2/default for the default authorization server)',
    steps: ['In the Okta Admin Console, create an app integration: OIDC – OpenID Connect, application type Web Application.', 'Grant type: Authorization Code. Sign-in redirect URI: {redirectUri}', 'Client authentication: Client secret. Assign the users or groups allowed to sign in.', 'Copy the Client ID and the Client secret.'],
  },
  {
    id: 'entra', label: 'Microsoft Entra ID', protocol: 'oidc', doc: 'entra-id.md', issuerHint: 'https://login.microsoftonline.com/<directory-tenant-id>/v2.0',
    steps: ['In Entra ID, App registrations → New registration (single tenant).', 'Platform Web, Redirect URI: {redirectUri}', 'Certificates & secrets → New client secret: copy its Value (not its ID).', 'Token configuration: add the optional claim email to the ID token. Copy the Application (client) ID and the Directory (tenant) ID.'],
  },
  {
    id: 'google', label: 'Google Workspace', protocol: 'oidc', doc: 'google-workspace.md', issuerHint: 'https://accounts.google.com',
    steps: ['In a Google Cloud project of your Workspace organisation, configure the OAuth consent screen (user type Internal).', 'Create an OAuth client ID of type Web application with the authorized redirect URI {redirectUri}', 'Scopes: openid email profile. Copy the Client ID and Client secret.'],
  },
  {
    id: 'auth0', label: 'Auth0', protocol: 'oidc', doc: 'auth0.md', issuerHint: 'https://<your-domain>/ (with the trailing slash)',
    steps: ['Create an application of type Regular Web Application.', 'Allowed Callback URLs: {redirectUri}. Grant type: Authorization Code.', 'Credentials: Client Secret. Copy the Domain, Client ID and Client Secret.'],
  },
  {
    id: 'pingone', label: 'PingOne', protocol: 'oidc', doc: null, issuerHint: 'https://auth.pingone.<region>/<environment-id>/as',
    steps: ['In your PingOne environment, Applications → Add application: OIDC Web App.', 'Response type Code, grant type Authorization Code; Redirect URI: {redirectUri}', 'Token endpoint authentication: Client Secret Basic. Add the scopes openid, email, profile and enable the application.', 'Copy the Client ID, Client Secret and the Issuer from the Configuration tab.'],
  },
  {
    id: 'keycloak', label: 'Keycloak', protocol: 'oidc', doc: 'keycloak.md', issuerHint: 'https://<host>/realms/<realm>',
    steps: ['In the realm your users live in, create a client of type OpenID Connect.', 'Client authentication On; Standard flow; Valid redirect URIs: {redirectUri} (exactly, no wildcard).', 'Copy the Client ID and, from the client\'s Credentials tab, the secret.'],
  },
  {
    id: 'adfs', label: 'ADFS', protocol: 'oidc', doc: 'adfs.md', issuerHint: 'https://<adfs-host>/adfs',
    steps: ['Create an application group from the template "Server application accessing a web API".', 'Server application: Redirect URI {redirectUri}; generate a shared secret (ADFS shows it once).', 'Web API: identifier = the server application\'s client identifier; permit the scopes openid, email, profile and allatclaims.', 'Copy the client identifier and the shared secret.'],
  },
  {
    id: 'saml', label: 'Any SAML 2.0 IdP', protocol: 'saml', doc: 'saml.md',
    steps: ['Create a SAML 2.0 application (a service provider) at your IdP; if it imports SP metadata, give it {metadataUrl} once the connection exists below.', 'Otherwise enter: ACS (reply) URL {acsUrl}, binding HTTP-POST; Entity ID (audience) {entityId}.', 'NameID: the user\'s email; attribute statements: email, and optionally displayName and groups. Sign the assertion (or the response).', 'Copy the IdP\'s metadata URL (or download its metadata XML).'],
  },
  {
    id: 'oidc', label: 'Any OpenID Connect IdP', protocol: 'oidc', doc: null, issuerHint: 'the issuer of the IdP\'s /.well-known/openid-configuration',
    steps: ['Register a confidential web application (Authorization Code flow) at your IdP.', 'Redirect URI: {redirectUri}. Scopes: openid email profile.', 'Copy the issuer, the client ID and the client secret.'],
  },
];

/** The per-IdP guides shipped with Tessera (docs/sso/), as the console lists them. */
export const GUIDES: ReadonlyArray<readonly [string, string]> = [
  ...IDP_GUIDES.filter((g) => g.doc !== null && g.protocol === 'oidc').map((g) => [g.label, g.doc!] as const),
  ['SAML 2.0 (any IdP)', 'saml.md'],
  ['Troubleshooting', 'troubleshooting.md'],
];

/** A step with our values in place. */
export function fillStep(step: string, values: { redirectUri: string; entityId: string; acsUrl: string; metadataUrl: string }): string {
  return step.replace('{redirectUri}', values.redirectUri).replace('{entityId}', values.entityId).replace('{acsUrl}', values.acsUrl).replace('{metadataUrl}', values.metadataUrl);
}
