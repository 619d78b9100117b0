import { IDP_GUIDES } from '../../sso/idp-guides.js';
type Discovery = {
  authorizationEndpoint: string | null;
  tokenEndpoint: string | null;
  userinfoEndpoint: string | null;
  jwksUri: string | null;
  endSessionEndpoint: string | null;
  idTokenSigningAlgValuesSupported: string[];
  issParameterSupported: boolean;
};
/** The members of an SSO connection (the API's `SsoConnection`) read here: pure, so it is unit-tested without the console. */
export interface ConnectionView {
  type: 'oidc' | 'saml';
  redirectUri: string | null;
  clientJwksUri: string | null;
  clientPublicKeyPem: string | null;
  oidc: { tokenEndpointAuthMethod: string; discovery: Discovery | null } | null;
  saml: { acsUrl: string; spEntityId: string; spMetadataUrl: string; idpEntityId: string; ssoUrl: string; ssoBinding: string; sloUrl: string | null; certificates: { subject: string; fingerprintSha256: string }[] } | null;
}
type Connection = ConnectionView;

/** The identity providers with a guide in docs/sso/ whose admin screens this page names; labels and guides from IDP_GUIDES. */
const NAMED = ['okta', 'entra', 'google', 'auth0', 'keycloak', 'adfs'] as const;
export type Idp = 'generic' | (typeof NAMED)[number];

/** The IdPs the SSO page offers: the generic case, then those it names the fields for. */
export const IDPS: readonly { value: Idp; label: string; oidcGuide: string; samlGuide: string }[] = [
  { value: 'generic', label: 'Another identity provider', oidcGuide: 'README.md', samlGuide: 'saml.md' },
  ...NAMED.map((id) => {
    const guide = IDP_GUIDES.find((g) => g.id === id)!;
    return { value: id, label: guide.label, oidcGuide: guide.doc ?? 'README.md', samlGuide: 'saml.md' };
  }),
];

export interface ValueToPaste {
  /** The field as the IdP's own admin screens name it (docs/sso/<idp>.md, docs/sso/saml.md "Where" table). */
  readonly field: string;
  readonly value: string;
  readonly testId: string;
}

/** OIDC: the redirect URI's field at each IdP (docs/sso/<idp>.md, first table). */
const REDIRECT_FIELD: Record<Idp, string> = {
  generic: 'Redirect URI',
  okta: 'Sign-in redirect URI',
  entra: 'Redirect URI (Web)',
  google: 'Authorized redirect URI',
  auth0: 'Allowed Callback URLs',
  keycloak: 'Valid redirect URIs',
  adfs: 'Redirect URI (server application)',
};

/** SAML: the entity ID and ACS fields at each IdP (docs/sso/saml.md, "Where" table). */
const SAML_FIELDS: Record<Idp, { entityId: string; acs: string }> = {
  generic: { entityId: 'SP entity ID / Audience URI', acs: 'ACS URL (HTTP-POST)' },
  okta: { entityId: 'Audience URI (SP Entity ID)', acs: 'Single sign-on URL' },
  entra: { entityId: 'Identifier (Entity ID)', acs: 'Reply URL (Assertion Consumer Service URL)' },
  google: { entityId: 'Entity ID', acs: 'ACS URL' },
  auth0: { entityId: 'SP entity ID / Audience URI', acs: 'ACS URL (HTTP-POST)' },
  keycloak: { entityId: 'Client ID', acs: 'Assertion Consumer Service POST Binding URL' },
  adfs: { entityId: 'Relying party trust identifier', acs: 'SAML Assertion Consumer Endpoint (POST)' },
};

/**
 * What the administrator pastes at the chosen IdP for this connection, named as that IdP names it, and the notes
 * that IdP needs (docs/sso/). Where the IdP cannot take what the connection uses, the note says so instead.
 */
export function valuesToPaste(idp: Idp, c: Connection): { values: ValueToPaste[]; notes: string[] } {
  const values: ValueToPaste[] = [];
  const notes: string[] = [];
  if (c.type === 'oidc') {
    if (c.redirectUri) values.push({ field: REDIRECT_FIELD[idp], value: c.redirectUri, testId: 'sp-redirect-uri' });
    if (idp === 'keycloak') notes.push('Exactly this URI: avoid wildcards in Valid redirect URIs.');
    if (c.oidc?.tokenEndpointAuthMethod === 'private_key_jwt') {
      if (idp === 'auth0') {
        // docs/sso/auth0.md: Auth0 takes an uploaded RSA public key in PEM, and the issuer as the assertion audience.
        if (c.clientPublicKeyPem) values.push({ field: 'Private Key JWT credential (PEM)', value: c.clientPublicKeyPem, testId: 'sp-public-key-pem' });
        notes.push('Auth0 wants RS256 and the issuer as the assertion audience (clientKeyAlg RS256, clientAssertionAudience issuer). Add the new PEM as a second credential after each key rotation.');
      } else if (idp === 'entra' || idp === 'google' || idp === 'adfs') {
        notes.push(`${IDPS.find((i) => i.value === idp)!.label} does not take Tessera's private_key_jwt keys: use a client secret with it.`);
      } else if (c.clientJwksUri) {
        const field = idp === 'okta' ? 'Public key / Private key: URL to fetch keys' : idp === 'keycloak' ? 'Signed JWT: JWKS URL (Use JWKS URL on)' : 'JWKS URL';
        values.push({ field, value: c.clientJwksUri, testId: 'sp-jwks-url' });
      }
    }
  } else if (c.saml) {
    const fields = SAML_FIELDS[idp];
    values.push({ field: fields.acs, value: c.saml.acsUrl, testId: 'sp-acs-url' });
    values.push({ field: fields.entityId, value: c.saml.spEntityId, testId: 'sp-entity-id' });
    values.push({ field: idp === 'adfs' ? 'Federation metadata address (import)' : 'SP metadata URL', value: c.saml.spMetadataUrl, testId: 'sp-metadata-url' });
    if (idp === 'okta') notes.push('Check "Use this for Recipient URL and Destination URL". Leave the SLO URL empty: Okta wants logout requests by HTTP-POST.');
    if (idp === 'keycloak') notes.push('Put the ACS URL in Valid redirect URIs too.');
    if (idp === 'entra') notes.push('Add a claim email = user.mail; map the groups claim in Edit → Mapping if you use group rules.');
    if (idp === 'auth0') notes.push("Auth0's guide covers OpenID Connect; as a SAML identity provider it takes these generic values.");
  }
  return { values, notes };
}

/** A change between two settings: what it is, and the value before and after. */
export interface SettingChange {
  readonly what: string;
  readonly before: string;
  readonly after: string;
}

const show = (v: string | readonly string[] | null | undefined) => (v === null || v === undefined || v === '' ? '(none)' : typeof v === 'string' ? v : v.join(', ') || '(none)');

/**
 * What a refresh of the IdP's published document changed in what sign-in trusts: the OIDC discovery endpoints and
 * algorithms (OpenID Connect Discovery 1.0 §3), or the SAML IdP settings and signing certificates (saml-metadata §2.4.3).
 */
export function refreshChanges(before: Connection, after: Connection): SettingChange[] {
  const changes: SettingChange[] = [];
  const compare = (what: string, a: string | readonly string[] | null | undefined, b: string | readonly string[] | null | undefined) => {
    if (show(a) !== show(b)) changes.push({ what, before: show(a), after: show(b) });
  };
  if (before.oidc || after.oidc) {
    const a = before.oidc?.discovery;
    const b = after.oidc?.discovery;
    compare('Authorization endpoint', a?.authorizationEndpoint, b?.authorizationEndpoint);
    compare('Token endpoint', a?.tokenEndpoint, b?.tokenEndpoint);
    compare('Userinfo endpoint', a?.userinfoEndpoint, b?.userinfoEndpoint);
    compare('JWKS URI', a?.jwksUri, b?.jwksUri);
    compare('End session endpoint', a?.endSessionEndpoint, b?.endSessionEndpoint);
    compare('id_token signing algorithms', a?.idTokenSigningAlgValuesSupported, b?.idTokenSigningAlgValuesSupported);
    compare('iss in the authorization response (RFC 9207)', a?.issParameterSupported ? 'yes' : 'no', b?.issParameterSupported ? 'yes' : 'no');
  }
  if (before.saml || after.saml) {
    const a = before.saml;
    const b = after.saml;
    compare('IdP entity ID', a?.idpEntityId, b?.idpEntityId);
    compare('IdP SSO URL', a?.ssoUrl, b?.ssoUrl);
    compare('IdP SSO binding', a?.ssoBinding, b?.ssoBinding);
    compare('IdP logout URL', a?.sloUrl, b?.sloUrl);
    const fingerprints = (c: typeof a) => (c?.certificates ?? []).map((cert) => `${cert.subject} (${cert.fingerprintSha256.slice(0, 17)}…)`);
    compare('Signing certificates', fingerprints(a), fingerprints(b));
  }
  return changes;
}
