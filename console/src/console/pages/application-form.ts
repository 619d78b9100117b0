/**
 * The Applications page's form as plain data (no DOM, no React): the settings an administrator edits, checked here
 * by the same rules and limits the API applies (src/features/applications/applications.schema.ts and
 * redirect-uris.ts; docs/openid-provider.md), so a mistake is named next to its field before anything is sent.
 * The redirect-URI, origin and API-identifier rules are the API's own functions (redirect-uris.ts), imported.
 */
import { type ApplicationType, originProblem, redirectUriProblem, resourceProblem } from '../../../../src/features/applications/redirect-uris.js';

export type { ApplicationType };
export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
export const SCOPES = ['openid', 'email', 'profile', 'offline_access', 'permissions'] as const;

export const TYPES: readonly { value: ApplicationType; label: string; description: string }[] = [
  { value: 'spa', label: 'Single-page app', description: 'Runs in the browser (React, Vue…): a public client, no secret, signs users in with PKCE.' },
  { value: 'web', label: 'Web app', description: 'Has a server that keeps a secret (Express, Next.js, Rails…): signs users in with the code flow.' },
  { value: 'native', label: 'Native app', description: 'A desktop or mobile app: a public client with PKCE, may return to a loopback or app-scheme URI.' },
  { value: 'machine', label: 'Machine', description: 'A service or job that calls APIs as itself (client credentials): signs no user in.' },
];

export const AUTH_METHODS: readonly { value: AuthMethod; label: string }[] = [
  { value: 'client_secret_basic', label: 'Client secret (HTTP Basic)' },
  { value: 'client_secret_post', label: 'Client secret (in the request body)' },
  { value: 'private_key_jwt', label: 'Private key JWT (signed assertion, RFC 7523)' },
];

export const SCOPE_DESCRIPTIONS: Record<(typeof SCOPES)[number], string> = {
  openid: 'Sign the user in (required)',
  email: "The user's email address",
  profile: "The user's name",
  offline_access: 'Refresh tokens, to stay signed in',
  permissions: "The user's permissions in the application's account",
};

/** API limits (applications.schema.ts). */
export const LIMITS = {
  name: 200,
  uris: 20,
  uriLength: 2000,
  originLength: 300,
  jwksKeys: 10,
  resources: 10,
  accessTtl: { min: 60, max: 86_400 },
  refreshTtl: { min: 300, max: 31_536_000 },
} as const;

export type Unit = 'seconds' | 'minutes' | 'hours' | 'days';
export const UNIT_SECONDS: Record<Unit, number> = { seconds: 1, minutes: 60, hours: 3600, days: 86_400 };

export interface Lifetime {
  value: number | string;
  unit: Unit;
}

export interface ApplicationForm {
  name: string;
  type: ApplicationType;
  firstParty: boolean;
  /** One URI per line, as typed. */
  redirectUris: string;
  postLogoutRedirectUris: string;
  allowedOrigins: string;
  /** API identifiers (RFC 8707 resource indicators), one per line; the first is the default `aud` of access tokens. */
  resources: string;
  /** OIDC Back-Channel Logout 1.0 §2.2 (web apps); empty: none. */
  backchannelLogoutUri: string;
  backchannelLogoutSessionRequired: boolean;
  authMethod: AuthMethod;
  /** The JWKS as typed; empty on edit means "keep the stored keys". */
  jwks: string;
  scopes: string[];
  accessTtl: Lifetime;
  refreshTtl: Lifetime;
}

export const NEW_APPLICATION: ApplicationForm = {
  name: '',
  type: 'web',
  firstParty: true,
  redirectUris: '',
  postLogoutRedirectUris: '',
  allowedOrigins: '',
  resources: '',
  backchannelLogoutUri: '',
  backchannelLogoutSessionRequired: false,
  authMethod: 'client_secret_basic',
  jwks: '',
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  accessTtl: { value: 5, unit: 'minutes' },
  refreshTtl: { value: 14, unit: 'days' },
};

/** A lifetime in seconds shown in the largest unit that divides it (300 → 5 minutes, 1209600 → 14 days). */
export function lifetimeOf(seconds: number): Lifetime {
  for (const unit of ['days', 'hours', 'minutes'] as const) if (seconds % UNIT_SECONDS[unit] === 0) return { value: seconds / UNIT_SECONDS[unit], unit };
  return { value: seconds, unit: 'seconds' };
}

export function describeLifetime(seconds: number): string {
  const { value, unit } = lifetimeOf(seconds);
  return `${value} ${value === 1 ? unit.slice(0, -1) : unit}`;
}

export const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

/** Which fields an application of this type has (the API refuses the others, `applications.invalid_config`). */
export function fieldsOf(type: ApplicationType) {
  return {
    redirects: type !== 'machine',
    origins: type === 'spa',
    backchannel: type === 'web',
    authMethod: type === 'web' || type === 'machine',
    scopes: type !== 'machine',
    refreshTtl: type !== 'machine',
  };
}

// The API's own rules for redirect URIs, origins and API identifiers (pure functions, no Node.js), so the form refuses
// exactly what the API refuses, for the same reason.
export { originProblem, redirectUriProblem, resourceProblem };

/** The JWKS text parsed, or why not: a JSON object `{ "keys": [...] }` of 1–10 public RSA, EC or OKP keys (RFC 7517 §5). */
export type PublicJwk = { kty: 'RSA' | 'EC' | 'OKP' } & Record<string, unknown>;

export function parseJwks(text: string): { jwks: { keys: PublicJwk[] } } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'Not valid JSON.' };
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (typeof value !== 'object' || value === null || !Array.isArray(keys)) return { problem: 'Give a JSON Web Key Set: {"keys": [ … ]}.' };
  if (keys.length < 1 || keys.length > LIMITS.jwksKeys) return { problem: `Give 1 to ${LIMITS.jwksKeys} keys.` };
  for (const [i, key] of keys.entries()) {
    if (typeof key !== 'object' || key === null) return { problem: `Key ${i + 1} is not a JSON object.` };
    const k = key as Record<string, unknown>;
    if (k.kty !== 'RSA' && k.kty !== 'EC' && k.kty !== 'OKP') return { problem: `Key ${i + 1}: kty must be RSA, EC or OKP.` };
    // Only public keys: a private part (d, p) or a symmetric key (k) must never leave the application.
    if ('d' in k || 'p' in k || 'k' in k) return { problem: `Key ${i + 1} contains private key material: give the public key only.` };
  }
  return { jwks: { keys: keys as PublicJwk[] } };
}

export type FormErrors = Partial<Record<'name' | 'resources' | 'redirectUris' | 'backchannelLogoutUri' | 'postLogoutRedirectUris' | 'allowedOrigins' | 'jwks' | 'scopes' | 'accessTtl' | 'refreshTtl', string>>;

function urisError(text: string, check: (uri: string) => string | null, max: number): string | undefined {
  const list = lines(text);
  if (list.length > max) return `At most ${max}.`;
  for (const uri of list) {
    const problem = check(uri);
    if (problem) return `${uri.slice(0, 200)}: ${problem}.`;
  }
  return undefined;
}

function lifetimeError(t: Lifetime, range: { min: number; max: number }): string | undefined {
  const seconds = Number(t.value) * UNIT_SECONDS[t.unit];
  if (t.value === '' || !Number.isInteger(seconds)) return 'Give a whole number of seconds.';
  if (seconds < range.min || seconds > range.max) return `Between ${describeLifetime(range.min)} and ${describeLifetime(range.max)}.`;
  return undefined;
}

/** Every problem of the form, by field; empty when the API would accept it. `creating`: the JWKS is required then. */
export function validate(form: ApplicationForm, creating: boolean): FormErrors {
  const f = fieldsOf(form.type);
  const errors: FormErrors = {};
  const name = form.name.trim();
  if (name === '') errors.name = 'Give the application a name.';
  else if (name.length > LIMITS.name) errors.name = `At most ${LIMITS.name} characters.`;
  if (f.redirects) {
    if (lines(form.redirectUris).length === 0) errors.redirectUris = 'Give at least one redirect URI.';
    else errors.redirectUris = urisError(form.redirectUris, (u) => redirectUriProblem(u, form.type), LIMITS.uris);
    errors.postLogoutRedirectUris = urisError(form.postLogoutRedirectUris, (u) => redirectUriProblem(u, form.type), LIMITS.uris);
  }
  if (f.origins) errors.allowedOrigins = urisError(form.allowedOrigins, originProblem, LIMITS.uris);
  errors.resources = urisError(form.resources, resourceProblem, LIMITS.resources);
  if (errors.resources === undefined && new Set(lines(form.resources)).size !== lines(form.resources).length) errors.resources = 'An API identifier is listed twice.';
  // The API holds the back-channel logout URI to the rules of a web app's redirect URI (https, http on loopback).
  if (f.backchannel && form.backchannelLogoutUri.trim() !== '') errors.backchannelLogoutUri = urisError(form.backchannelLogoutUri, (u) => redirectUriProblem(u, 'web'), 1);
  if (f.authMethod && form.authMethod === 'private_key_jwt' && (creating || form.jwks.trim() !== '')) {
    const parsed = parseJwks(form.jwks);
    if ('problem' in parsed) errors.jwks = parsed.problem;
  }
  if (f.scopes && !form.scopes.includes('openid')) errors.scopes = 'An application that signs users in needs the openid scope.';
  errors.accessTtl = lifetimeError(form.accessTtl, LIMITS.accessTtl);
  if (f.refreshTtl) errors.refreshTtl = lifetimeError(form.refreshTtl, LIMITS.refreshTtl);
  return Object.fromEntries(Object.entries(errors).filter(([, v]) => v !== undefined));
}

const seconds = (t: Lifetime) => Number(t.value) * UNIT_SECONDS[t.unit];

/** The settings the form sends, limited to what the type has (valid forms only). */
function settingsOf(form: ApplicationForm) {
  const f = fieldsOf(form.type);
  const jwks = f.authMethod && form.authMethod === 'private_key_jwt' && form.jwks.trim() !== '' ? parseJwks(form.jwks) : undefined;
  return {
    name: form.name.trim(),
    firstParty: form.firstParty,
    ...(f.redirects ? { redirectUris: lines(form.redirectUris), postLogoutRedirectUris: lines(form.postLogoutRedirectUris) } : {}),
    ...(f.origins ? { allowedOrigins: lines(form.allowedOrigins) } : {}),
    resources: lines(form.resources),
    ...(f.backchannel ? { backchannelLogoutUri: form.backchannelLogoutUri.trim() || null, backchannelLogoutSessionRequired: form.backchannelLogoutSessionRequired } : {}),
    ...(jwks && 'jwks' in jwks ? { jwks: jwks.jwks } : {}),
    ...(f.scopes ? { scopes: SCOPES.filter((s) => form.scopes.includes(s)) } : {}),
    accessTokenTtlSeconds: seconds(form.accessTtl),
    ...(f.refreshTtl ? { refreshTokenTtlSeconds: seconds(form.refreshTtl) } : {}),
  };
}

/** The body of `POST /api/v1/applications`. */
export function createBody(form: ApplicationForm) {
  return { ...settingsOf(form), type: form.type, ...(fieldsOf(form.type).authMethod ? { tokenEndpointAuthMethod: form.authMethod } : {}) };
}

/** The body of `PATCH /api/v1/applications/:id` (type and client authentication stay as created). */
export function updateBody(form: ApplicationForm) {
  return settingsOf(form);
}

/** The form filled from a stored application, for editing. */
export function formOf(app: {
  name: string;
  type: ApplicationType;
  firstParty: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedOrigins: string[];
  resources: string[];
  backchannelLogoutUri: string | null;
  backchannelLogoutSessionRequired: boolean;
  tokenEndpointAuthMethod: string;
  scopes: string[];
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}): ApplicationForm {
  return {
    name: app.name,
    type: app.type,
    firstParty: app.firstParty,
    redirectUris: app.redirectUris.join('\n'),
    postLogoutRedirectUris: app.postLogoutRedirectUris.join('\n'),
    allowedOrigins: app.allowedOrigins.join('\n'),
    resources: app.resources.join('\n'),
    backchannelLogoutUri: app.backchannelLogoutUri ?? '',
    backchannelLogoutSessionRequired: app.backchannelLogoutSessionRequired,
    authMethod: app.tokenEndpointAuthMethod === 'none' ? 'client_secret_basic' : (app.tokenEndpointAuthMethod as AuthMethod),
    jwks: '',
    scopes: app.scopes,
    accessTtl: lifetimeOf(app.accessTokenTtlSeconds),
    refreshTtl: lifetimeOf(app.refreshTokenTtlSeconds),
  };
}

/** A short openid-client 6 setup for the application (docs/openid-provider.md). */
export function configSnippet(app: { type: ApplicationType; clientId: string; tokenEndpointAuthMethod: string; redirectUris: string[]; scopes: string[] }, issuer: string): string {
  const auth =
    app.tokenEndpointAuthMethod === 'client_secret_basic'
      ? 'client.ClientSecretBasic(process.env.CLIENT_SECRET)'
      : app.tokenEndpointAuthMethod === 'client_secret_post'
        ? 'client.ClientSecretPost(process.env.CLIENT_SECRET)'
        : app.tokenEndpointAuthMethod === 'private_key_jwt'
          ? 'client.PrivateKeyJwt(privateKey)'
          : 'client.None()';
  const head = [`import * as client from 'openid-client';`, '', `const config = await client.discovery(`, `  new URL('${issuer}'),`, `  '${app.clientId}',`, `  undefined,`, `  ${auth},`, `);`];
  if (app.type === 'machine') return [...head, '', '// A token for the application itself (client credentials):', 'const tokens = await client.clientCredentialsGrant(config);'].join('\n');
  return [
    ...head,
    '',
    '// Sign a user in: authorization code with PKCE (S256).',
    'const verifier = client.randomPKCECodeVerifier();',
    'const state = client.randomState();',
    'const url = client.buildAuthorizationUrl(config, {',
    `  redirect_uri: '${app.redirectUris[0] ?? 'https://app.example.com/callback'}',`,
    `  scope: '${app.scopes.join(' ')}',`,
    `  code_challenge: await client.calculatePKCECodeChallenge(verifier),`,
    `  code_challenge_method: 'S256',`,
    '  state,',
    '});',
    '// … send the browser to url; on its return to the redirect URI:',
    'const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });',
  ].join('\n');
}
