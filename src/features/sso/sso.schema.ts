import { domainToASCII } from 'node:url';
import { z } from 'zod';

/** id_token signature algorithms a connection may pin (RFC 7518 §3.1, RFC 8037); HS256 only when chosen explicitly. */
export const ID_TOKEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256'] as const;
export const DEFAULT_SCOPES = 'openid email profile';
/** RFC 8176 §2 values that assert a second factor. */
export const DEFAULT_MFA_AMR = ['mfa', 'otp', 'hwk', 'sc'];
export const MAX_RULE_REGEX_LENGTH = 200;
/** Token endpoint client authentication (OpenID Connect Core §9); private_key_jwt with a key pair Tessera generates. */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
/** Algorithms of the generated private_key_jwt key (RFC 7518 §3.1): ES256 by default, RS256 for IdPs that take only RSA. */
export const CLIENT_KEY_ALGS = ['ES256', 'RS256'] as const;

const name = z.string().trim().min(1).max(200).describe('1–200 characters; unique in the tenant, case-insensitively');
const claimName = z.string().trim().min(1).max(100);

/** A DNS name as entered: trimmed, lowercase, trailing dot dropped, IDNs in their ASCII (punycode) form. */
const domainName = z
  .string()
  .trim()
  .max(253)
  .transform((v, ctx) => {
    const ascii = domainToASCII(v.toLowerCase().replace(/\.$/, ''));
    // RFC 1035 §2.3.1 labels, at least two of them.
    if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(ascii) || !ascii.includes('.')) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a domain name` });
      return z.NEVER;
    }
    return ascii;
  });

export const MappingRule = z.strictObject({
  claim: claimName.describe('The claim to test (e.g. `groups`, `department`, or a dotted path `realm_access.roles`); array claims match on any element'),
  operator: z.enum(['equals', 'contains', 'regex']).describe('`equals` exact; `contains` substring of a string claim, element equality for an array claim; `regex` RE2'),
  value: z.string().min(1).max(MAX_RULE_REGEX_LENGTH).describe(`The value; for \`regex\` an RE2 pattern (no backreferences nor lookaround; searched unanchored, use ^…$) of at most ${MAX_RULE_REGEX_LENGTH} characters`),
  roleId: z.uuid(),
  organizationId: z.uuid().nullable().default(null),
});

export const ClaimMapping = z.strictObject({
  email: claimName.default('email'),
  name: claimName.default('name'),
  groups: claimName.default('groups'),
  department: claimName.default('department'),
});

export const MfaPolicy = z.strictObject({
  requireMfa: z.boolean().default(false),
  acceptedAmr: z.array(z.string().trim().min(1).max(50)).max(20).default(DEFAULT_MFA_AMR).describe('`amr` values (RFC 8176) that count as a second factor'),
  acceptedAcr: z.array(z.string().trim().min(1).max(200)).max(20).default([]).describe('`acr` values that count as a second factor'),
});

const oidcSettings = {
  issuer: z.string().trim().min(1).max(500).describe('Exactly as the IdP spells it (a trailing slash matters); https only'),
  clientId: z.string().trim().min(1).max(500),
  tokenEndpointAuthMethod: z.enum(TOKEN_ENDPOINT_AUTH_METHODS).default('client_secret_basic').describe('`private_key_jwt`: Tessera generates a key pair and publishes its public key (`clientJwksUri`); no client secret needed'),
  clientKeyAlg: z.enum(CLIENT_KEY_ALGS).default('ES256').describe('private_key_jwt: the algorithm of the key pair Tessera generates'),
  clientAssertionAudience: z.enum(['token_endpoint', 'issuer']).default('token_endpoint').describe('private_key_jwt: the client assertion\'s `aud`: the token endpoint URL (OpenID Connect Core §9) or the issuer (e.g. Auth0)'),
  scopes: z.string().trim().min(1).max(500).default(DEFAULT_SCOPES).describe('Space-separated; must include `openid`'),
  caBundlePem: z.string().max(65_536).nullable().default(null).describe('PEM certificates trusted for this IdP instead of the public CAs (internal IdPs)'),
  idTokenSignedResponseAlg: z.enum(ID_TOKEN_ALGS).default('RS256').describe('The one id_token algorithm accepted; HS256 (keyed with the client secret) only when chosen'),
};
const clientSecret = z.string().min(1).max(1000).describe('Write-only: stored encrypted, never returned');
const optionalClientSecret = clientSecret.optional().describe('Write-only: stored encrypted, never returned. Required unless `tokenEndpointAuthMethod` is `private_key_jwt`');

/** SAML 2.0 bindings (saml-bindings §3.4 HTTP-Redirect, §3.5 HTTP-POST) the IdP's SSO service may use. */
export const SAML_BINDINGS = ['redirect', 'post'] as const;
/** The IdP's signing certificates: one, or two while the IdP rotates (the new one next to the old). */
const samlCertificates = z.array(z.string().trim().min(1).max(16_384)).min(1).max(2).describe('PEM X.509 certificates that sign the IdP\'s assertions: one, or two during the IdP\'s rotation');
const samlSettings = {
  metadataXml: z.string().max(262_144).optional().describe('Import: the IdP\'s metadata XML (entityID, SSO URL and binding, SLO URL, signing certificates are read from it); explicit fields override it'),
  metadataUrl: z.url({ protocol: /^https?$/ }).max(2000).nullable().optional().describe('Import from the IdP\'s metadata URL (https; fetched now and again on POST …/{id}/discovery/refresh); explicit fields override it'),
  idpEntityId: z.string().trim().min(1).max(1000).optional().describe('The IdP\'s entity ID: the assertion\'s Issuer must equal it'),
  ssoUrl: z.url({ protocol: /^https?$/ }).max(2000).optional().describe('The IdP\'s SingleSignOnService URL'),
  ssoBinding: z.enum(SAML_BINDINGS).optional().describe('How the AuthnRequest is sent: `redirect` (HTTP-Redirect, default) or `post` (HTTP-POST)'),
  sloUrl: z.url({ protocol: /^https?$/ }).max(2000).nullable().optional().describe('The IdP\'s SingleLogoutService URL (optional)'),
  certificates: samlCertificates.optional(),
  allowSha1: z.boolean().optional().describe('Accept SHA-1 signatures and digests (legacy ADFS); default false'),
  allowIdpInitiated: z.boolean().optional().describe('Accept responses the IdP sends unasked (no InResponseTo); default false'),
  clockSkewSeconds: z.int().min(0).max(600).optional().describe('Tolerance on NotBefore / NotOnOrAfter; default 60'),
  emailFrom: z.enum(['attribute_or_name_id', 'attribute', 'name_id']).optional().describe('Where the email is read: the `claimMapping.email` attribute, the NameID of format emailAddress, or the attribute and else the NameID (default)'),
  signAuthnRequests: z.boolean().optional().describe('Sign AuthnRequests with the connection\'s current SP key (RSA-SHA256); default false. Give the IdP our signing certificate (`spKeys`, or the SP metadata) first'),
};
export const SamlSettingsInput = z.strictObject(samlSettings).describe('SAML 2.0: give `metadataXml`, or `idpEntityId`, `ssoUrl` and `certificates`');
export type SamlSettingsInput = z.infer<typeof SamlSettingsInput>;

export const SamlCertificateSchema = z.object({
  fingerprintSha256: z.string().describe('SHA-256 fingerprint, colon-separated hex'),
  notBefore: z.string(),
  notAfter: z.string().describe('The certificate expires then: rotate it at the IdP before (add the new one as a second certificate)'),
  subject: z.string(),
});
export const SamlSpKeySchema = z.object({
  id: z.string(),
  current: z.boolean().describe('The key that signs; the other (during a rotation) only decrypts'),
  certificatePem: z.string().describe('Self-signed X.509 certificate (PEM) to give the IdP as the SP signing and encryption certificate'),
  fingerprintSha256: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  createdAt: z.string(),
});
export const SpKeyParams = z.object({ id: z.uuid(), keyId: z.uuid() });
export const SamlSettingsSchema = z.object({
  idpEntityId: z.string(),
  ssoUrl: z.string(),
  ssoBinding: z.enum(SAML_BINDINGS),
  sloUrl: z.string().nullable(),
  metadataUrl: z.string().nullable().describe('Where the IdP metadata is fetched from, when imported by URL'),
  metadataFetchedAt: z.string().nullable().describe('When the metadata was last fetched from `metadataUrl` (at creation, on `POST …/discovery/refresh`, by the scheduled refresh); null when not imported by URL'),
  certificates: z.array(SamlCertificateSchema),
  allowSha1: z.boolean(),
  allowIdpInitiated: z.boolean(),
  clockSkewSeconds: z.number(),
  emailFrom: z.enum(['attribute_or_name_id', 'attribute', 'name_id']),
  signAuthnRequests: z.boolean(),
  spKeys: z.array(SamlSpKeySchema).describe('Our SP key pairs (the private keys are never returned), the current first: their certificates sign our requests and receive encrypted assertions; a previous one stays until removed'),
  spEntityId: z.string().describe('Our entity ID, to register at the IdP (the assertion\'s Audience)'),
  acsUrl: z.string().describe('Our Assertion Consumer Service URL (HTTP-POST), to register at the IdP'),
  spMetadataUrl: z.string().describe('Our SP metadata XML, for IdPs that import it'),
});

const common = {
  name,
  enabled: z.boolean().default(false),
  domains: z.array(domainName).max(50).default([]).describe('Email domains this connection serves; sign-in will require each to be verified for the tenant'),
  defaultRoleId: z.uuid().nullable().default(null).describe('Role held when no rule matches (re-evaluated at every sign-in); never Account Administrator'),
  rulesMode: z.enum(['highest_match', 'additive']).default('highest_match').describe('`highest_match`: the first matching rule wins (order rules from most to least privileged); `additive`: every matching rule\'s role'),
  rules: z.array(MappingRule).max(100).default([]),
  claimMapping: ClaimMapping.default({ email: 'email', name: 'name', groups: 'groups', department: 'department' }),
  mfaPolicy: MfaPolicy.default({ requireMfa: false, acceptedAmr: DEFAULT_MFA_AMR, acceptedAcr: [] }),
};

export const CreateConnectionBody = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('oidc'), ...common, oidc: z.strictObject({ ...oidcSettings, clientSecret: optionalClientSecret }) }),
  z.strictObject({ type: z.literal('saml'), ...common, saml: SamlSettingsInput }),
]);
export type CreateConnectionInput = z.infer<typeof CreateConnectionBody>;

export const UpdateConnectionBody = z.strictObject({
  name: name.optional(),
  domains: z.array(domainName).max(50).optional(),
  defaultRoleId: z.uuid().nullable().optional(),
  rulesMode: z.enum(['highest_match', 'additive']).optional(),
  rules: z.array(MappingRule).max(100).optional(),
  claimMapping: ClaimMapping.optional(),
  mfaPolicy: MfaPolicy.optional(),
  saml: SamlSettingsInput.optional().describe('SAML connections: the fields given replace the stored ones (`metadataXml` imports again)'),
  oidc: z
    .strictObject({
      issuer: oidcSettings.issuer.optional(),
      clientId: oidcSettings.clientId.optional(),
      tokenEndpointAuthMethod: z.enum(TOKEN_ENDPOINT_AUTH_METHODS).optional(),
      clientKeyAlg: z.enum(CLIENT_KEY_ALGS).optional(),
      clientAssertionAudience: z.enum(['token_endpoint', 'issuer']).optional(),
      scopes: z.string().trim().min(1).max(500).optional(),
      caBundlePem: z.string().max(65_536).nullable().optional(),
      idTokenSignedResponseAlg: z.enum(ID_TOKEN_ALGS).optional(),
    })
    .optional()
    .describe('The client secret changes only through `POST …/secret`; switching to `private_key_jwt` (or changing `clientKeyAlg`) generates a new key pair'),
});
export type UpdateConnectionInput = z.infer<typeof UpdateConnectionBody>;

export const RotateSecretBody = z.strictObject({ clientSecret });
export const ConnectionParams = z.object({ id: z.uuid() });
export const ClientKeyParams = z.object({ id: z.uuid(), kid: z.string().min(1).max(100) });

/** RFC 7517 §4: a public JWK of a connection's private_key_jwt key pair (never a private member). */
export const ClientJwk = z
  .object({
    kty: z.enum(['EC', 'RSA']),
    kid: z.string(),
    alg: z.enum(CLIENT_KEY_ALGS),
    use: z.literal('sig'),
    crv: z.string().optional(),
    x: z.string().optional(),
    y: z.string().optional(),
    n: z.string().optional(),
    e: z.string().optional(),
  })
  .strict();
export const ClientJwks = z.object({ keys: z.array(ClientJwk) }).meta({ id: 'SsoClientJwks' });

export const DiscoverySummary = z.object({
  fetchedAt: z.string(),
  authorizationEndpoint: z.string().nullable(),
  tokenEndpoint: z.string().nullable(),
  userinfoEndpoint: z.string().nullable(),
  jwksUri: z.string().nullable(),
  endSessionEndpoint: z.string().nullable(),
  idTokenSigningAlgValuesSupported: z.array(z.string()),
  issParameterSupported: z.boolean().describe('RFC 9207: the IdP sends `iss` with the authorization response'),
});

export const OidcSettingsSchema = z.object({
  issuer: z.string(),
  clientId: z.string(),
  tokenEndpointAuthMethod: z.string(),
  clientKeyAlg: z.string(),
  clientAssertionAudience: z.string(),
  scopes: z.string(),
  caBundlePem: z.string().nullable(),
  idTokenSignedResponseAlg: z.string(),
  discovery: DiscoverySummary.nullable(),
});

export const ConnectionSchema = z
  .object({
    id: z.string(),
    type: z.enum(['oidc', 'saml']),
    name: z.string(),
    enabled: z.boolean(),
    domains: z.array(z.string()),
    defaultRoleId: z.string().nullable(),
    rulesMode: z.enum(['highest_match', 'additive']),
    rules: z.array(z.object({ claim: z.string(), operator: z.string(), value: z.string(), roleId: z.string(), organizationId: z.string().nullable() })),
    claimMapping: z.object({ email: z.string(), name: z.string(), groups: z.string(), department: z.string() }),
    mfaPolicy: z.object({ requireMfa: z.boolean(), acceptedAmr: z.array(z.string()), acceptedAcr: z.array(z.string()) }),
    hasClientSecret: z.boolean().describe('The secret itself is never returned'),
    clientJwks: ClientJwks.nullable().describe('private_key_jwt: the public keys to register at the IdP, the current (signing) key first; the private key is never returned'),
    clientPublicKeyPem: z.string().nullable().describe('private_key_jwt: the current public key as PEM (SPKI), for IdPs that take a PEM upload instead of a JWK Set'),
    clientJwksUri: z.string().nullable().describe('private_key_jwt: the public URL of `clientJwks`, for IdPs that fetch a JWKS URL'),
    redirectUri: z.string().nullable().describe('OIDC: our redirect URI (PUBLIC_URL/auth/sso/oidc/callback), to register at the IdP exactly'),
    oidc: OidcSettingsSchema.nullable(),
    saml: SamlSettingsSchema.nullable(),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    updatedBy: z.string().nullable(),
    updatedAt: z.string(),
  })
  .meta({ id: 'SsoConnection' });
export type Connection = z.infer<typeof ConnectionSchema>;
export const ConnectionList = z.object({ items: z.array(ConnectionSchema) });

export const TestConnectionBody = z
  .strictObject({ returnTo: z.string().max(2000).optional().describe('Where the browser lands after the test (`?ssoTest=<testId>`): on PUBLIC_URL\'s origin only; default PUBLIC_URL/login') })
  .nullish();
export const TestStarted = z.object({
  url: z.string().describe('Open it in a browser: a real sign-in through the IdP, as a dry run (valid 30 minutes)'),
  testId: z.string(),
});
export const TestParams = z.object({ id: z.uuid(), testId: z.uuid() });
export const ConnectionTestSchema = z
  .object({
    id: z.string(),
    connectionId: z.string(),
    startedBy: z.string().describe('The administrator who started the test'),
    status: z.enum(['pending', 'succeeded', 'failed']).describe('`pending` until the test sign-in reaches the callback'),
    createdAt: z.string(),
    expiresAt: z.string().describe('The outcome is purged after this (30 minutes)'),
    outcome: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe('`error` ({code, message} or null), `claims` received (capped at 16 KiB), `email`, `user` (`existingUserId`, `wouldBeProvisioned`), `mapping` (`mode`, `matchedRules`, `usedDefault`, `roles` that would be assigned, `refused` roles with the reason, `before`/`after` managed role ids)'),
  })
  .meta({ id: 'SsoConnectionTest' });
