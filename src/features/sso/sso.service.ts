import { createPublicKey, type JsonWebKey } from 'node:crypto';
import * as jose from 'jose';
import type { z } from 'zod';
import type { Keyring } from '../../crypto/keyring.js';
import type { Database, Tx } from '../../db/database.js';
import { tryAdvisoryXactLock } from '../../db/advisory-lock.js';
import { AppError } from '../../kernel/app-error.js';
import { type JobLog, type PeriodicJob, startPeriodicJob } from '../../kernel/periodic-job.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import { actingUserId, type AuditRecorder, type ConfiguringActor } from '../audit/index.js';
import { ACCOUNT_ADMIN, findRoleInAccounts, type Grant, type GrantRule } from '../rbac/index.js';
import { organizationExists, tenantAccounts } from '../tenants/index.js';
import type { OutboundNetworkPolicy } from '../../net/outbound-network.js';
import { checkCaBundle, checkIssuerUrl, discoverIssuer, type DiscoveryDocument } from './oidc-discovery.js';
import { SsoErrors } from './sso.errors.js';
import { ClientJwk, type Connection, type CreateConnectionInput, MAX_RULE_REGEX_LENGTH, type UpdateConnectionInput } from './sso.schema.js';
import { CALLBACK_PATH, CLIENT_JWKS_PATH } from './sso-paths.js';
import { compilePattern } from './role-rules.js';
import { certificateInfos, fetchIdpMetadata, resolveSamlConfig, type SamlConfig, spEndpoints } from './saml-config.js';
import { generateSpKey, MAX_SP_KEYS, type SpKey, spKeyField, spKeysOf, spKeyView, type StoredSpKey } from './saml-sp-keys.js';
import * as store from './sso.store.js';

/** A signed-in tenant administrator, or a setup link acting within what its creator holds (audit.types.ts). */
type UserActor = ConfiguringActor;

export interface SsoDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring<Tx>;
  readonly audit: AuditRecorder;
  /** identity's rule: tenant-level settings change only by a tenant administrator. */
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
  /** Where an issuer may be reached (TESSERA_SSO_ALLOW_LOOPBACK, TESSERA_SSO_PRIVATE_NETWORKS). */
  readonly network: OutboundNetworkPolicy;
  /** rbac's grant rule: the roles a connection hands out must be within the configuring administrator's access. */
  readonly grants: Pick<GrantRule, 'assertWithinOwnAccess' | 'refusalsRecorded'>;
  /** PUBLIC_URL: a connection's client JWKS is published under it. */
  readonly publicUrl: string;
  /** rbac: removes every assignment `managedBy` (`sso:<connectionId>`) manages; the removed ones. */
  readonly removeManagedAssignments: (tx: Tx, tenantId: string, managedBy: string) => Promise<ReadonlyArray<{ assignmentId: string; roleId: string; accountId: string; userId: string | null }>>;
  /** tenants: every tenant's id, read in the owner's unit of work (for the scheduled metadata refresh). */
  readonly tenantIds?: (tx: Tx) => Promise<string[]>;
}

/** The scheduled SAML metadata refresh, one instance at a time on PostgreSQL (transaction-scoped advisory lock). */
const METADATA_REFRESH_LOCK = 7_430_117_021;
const METADATA_JOB_ACTOR = { type: 'system' as const, id: 'sso:metadata-refresh' };

/** The non-secret OIDC settings kept in `config`. */
interface OidcConfig {
  issuer: string;
  clientId: string;
  tokenEndpointAuthMethod: string;
  clientKeyAlg?: string;
  clientAssertionAudience?: string;
  scopes: string;
  caBundlePem: string | null;
  idTokenSignedResponseAlg: string;
}

type Rule = CreateConnectionInput['rules'][number];

/** The keyring field names the connection: a ciphertext copied to another connection or tenant fails to decrypt. */
const secretField = (connectionId: string) => `sso.client_secret/${connectionId}`;
/** The same for the private_key_jwt private key, bound to its kid too (a swapped ciphertext fails to decrypt). */
const keyField = (connectionId: string, kid: string) => `sso.client_key/${connectionId}/${kid}`;
/** Keys a connection publishes at most: the current one and a few previous ones awaiting removal. */
export const MAX_CLIENT_KEYS = 5;
type PublicJwk = z.infer<typeof ClientJwk>;
const DEFAULT_CLIENT_KEY_ALG = 'ES256';
const notFound = () => new AppError(SsoErrors['sso.connection_not_found']);
const configError = (message: string) => new AppError(SsoErrors.sso_config, { message });
const iso = (d: Date | string) => new Date(d).toISOString();

/** RFC 6749 §3.3 scope tokens; OpenID Connect Core §3.1.2.1 requires `openid`. */
function checkScopes(scopes: string): string {
  const tokens = scopes.split(/\s+/).filter((s) => s !== '');
  if (!tokens.every((t) => /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(t))) throw configError('A scope contains a character RFC 6749 §3.3 does not allow.');
  if (!tokens.includes('openid')) throw configError('The scopes must include "openid" (OpenID Connect Core §3.1.2.1).');
  return [...new Set(tokens)].join(' ');
}

/**
 * The rule's pattern is RE2 (re2js: linear-time matching, no backreferences nor lookaround; OWASP ReDoS) and stays
 * short; sign-in evaluates it with the same engine on capped input (role-rules.ts).
 */
function checkRulePatterns(rules: readonly Rule[]): void {
  for (const [i, rule] of rules.entries()) {
    if (rule.operator !== 'regex') continue;
    if (rule.value.length > MAX_RULE_REGEX_LENGTH) throw new AppError(SsoErrors['sso.invalid_rule'], { message: `Rule ${i + 1}: the pattern exceeds ${MAX_RULE_REGEX_LENGTH} characters.` });
    try {
      compilePattern(rule.value);
    } catch (err) {
      throw new AppError(SsoErrors['sso.invalid_rule'], { message: `Rule ${i + 1}: the pattern is not valid RE2 syntax (${(err as Error).message}).` });
    }
  }
}

function summary(document: DiscoveryDocument | null, fetchedAt: Date | string | null): NonNullable<Connection['oidc']>['discovery'] {
  if (!document || !fetchedAt) return null;
  const str = (k: string) => (typeof document[k] === 'string' ? (document[k]) : null);
  const algs = document.id_token_signing_alg_values_supported;
  return {
    fetchedAt: iso(fetchedAt),
    authorizationEndpoint: str('authorization_endpoint'),
    tokenEndpoint: str('token_endpoint'),
    userinfoEndpoint: str('userinfo_endpoint'),
    jwksUri: str('jwks_uri'),
    endSessionEndpoint: str('end_session_endpoint'),
    idTokenSigningAlgValuesSupported: Array.isArray(algs) ? algs.filter((a): a is string => typeof a === 'string') : [],
    issParameterSupported: document.authorization_response_iss_parameter_supported === true,
  };
}

/** The public members only (RFC 7517 §4; RFC 7518 §6.2.1, §6.3.1): what the IdP needs to verify our assertions. */
function publicJwk(jwk: jose.JWK, kid: string, alg: string): PublicJwk {
  const members = jwk.kty === 'EC' ? { kty: 'EC' as const, crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: 'RSA' as const, n: jwk.n, e: jwk.e };
  return ClientJwk.parse({ ...members, kid, alg, use: 'sig' });
}

/** A fresh key pair for private_key_jwt; its kid is the RFC 7638 thumbprint of the public key. */
async function generateClientKey(alg: string): Promise<{ publicKey: PublicJwk; privateJwk: jose.JWK }> {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const privateJwk = await jose.exportJWK(privateKey);
  const kid = await jose.calculateJwkThumbprint(privateJwk, 'sha256');
  return { publicKey: publicJwk(privateJwk, kid, alg), privateJwk: { ...privateJwk, kid, alg } };
}

const clientKeysOf = (row: store.ConnectionRow): PublicJwk[] => ((row.client_jwks as { keys?: PublicJwk[] } | null)?.keys ?? []);

function representRow(row: store.ConnectionRow, publicUrl: string): Connection {
  const stored = row.type === 'oidc' ? (row.config as unknown as OidcConfig) : null;
  const oidc = stored && { ...stored, clientKeyAlg: stored.clientKeyAlg ?? DEFAULT_CLIENT_KEY_ALG, clientAssertionAudience: stored.clientAssertionAudience ?? 'token_endpoint' };
  const keys = clientKeysOf(row);
  return {
    id: row.id,
    type: row.type as Connection['type'],
    name: row.name,
    enabled: row.enabled,
    domains: row.domains,
    defaultRoleId: row.default_role_id,
    rulesMode: row.rules_mode as Connection['rulesMode'],
    rules: row.rules as Connection['rules'],
    claimMapping: row.claim_mapping as Connection['claimMapping'],
    mfaPolicy: row.mfa_policy as Connection['mfaPolicy'],
    hasClientSecret: row.client_secret_enc !== null,
    clientJwks: keys.length > 0 ? { keys } : null,
    clientPublicKeyPem: keys[0] ? (createPublicKey({ key: keys[0] as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string) : null,
    clientJwksUri: keys.length > 0 ? `${publicUrl}${CLIENT_JWKS_PATH.replace(':id', row.id)}` : null,
    redirectUri: row.type === 'oidc' ? `${publicUrl}${CALLBACK_PATH}` : null,
    oidc: oidc && { ...oidc, discovery: summary(row.discovery, row.discovery_fetched_at) },
    saml: row.type === 'saml' ? samlView(row, publicUrl) : null,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    updatedBy: row.updated_by,
    updatedAt: iso(row.updated_at),
  };
}

/** A SAML connection's settings as the API shows them: certificates as fingerprint, subject and expiry. */
function samlView(row: store.ConnectionRow, publicUrl: string): NonNullable<Connection['saml']> {
  const config = row.config as unknown as SamlConfig;
  const { spEntityId, acsUrl, metadataUrl } = spEndpoints(publicUrl, row.id);
  const { certificates: _pems, ...rest } = config;
  const spKeys = spKeysOf(row).map((k, i) => spKeyView(k, i === 0));
  // A SAML row keeps in `discovery_fetched_at` when its IdP metadata was last fetched from `metadataUrl`.
  const metadataFetchedAt = config.metadataUrl && row.discovery_fetched_at ? iso(row.discovery_fetched_at) : null;
  return { ...rest, metadataFetchedAt, signAuthnRequests: config.signAuthnRequests ?? false, certificates: certificateInfos(config), spKeys, spEntityId, acsUrl, spMetadataUrl: metadataUrl };
}

/** What the audit log records of a connection: everything but the secret (DESIGN §6 rule 7). */
function auditView(c: Connection) {
  const { createdAt: _c, updatedAt: _u, createdBy: _cb, updatedBy: _ub, ...rest } = c;
  return {
    ...rest,
    oidc: rest.oidc && { ...rest.oidc, caBundlePem: rest.oidc.caBundlePem === null ? null : '(set)', discovery: undefined },
    saml: rest.saml && { ...rest.saml, spKeys: rest.saml.spKeys.map(({ certificatePem: _c, ...key }) => key) },
  };
}

/**
 * SSO connections (configuration side): any number per tenant, each an identity source the sign-in flow will
 * use. Writes need `sso.manage` and a tenant administrator, and are audited with the non-secret before/after.
 * The client secret is encrypted with the tenant's data key (DESIGN §4) and never returned.
 */
export function createSsoService({ db, clock, keyring, audit, requireTenantAdmin, network, grants, publicUrl, removeManagedAssignments, tenantIds }: SsoDeps) {
  const represent = (row: store.ConnectionRow) => representRow(row, publicUrl);
  /** The tenant-administrator rule, for the user the actor acts as (a setup link: its creator, now; none for the operator's). */
  const requireAdmin = async (tx: Tx, tenantId: string, actor: UserActor): Promise<void> => {
    const userId = actingUserId(actor);
    if (userId !== null) await requireTenantAdmin(tx, tenantId, userId);
  };

  /**
   * Roles SSO may hand out: a role of an account linked to the tenant, never Account Administrator
   * (`sso_role_forbidden`: SSO must not mint account owners); a rule's organization belongs to its role's account.
   */
  async function checkRoles(tx: Tx, tenantId: string, actor: UserActor, defaultRoleId: string | null, rules: readonly Rule[], connectionId?: string): Promise<void> {
    const accounts = (await tenantAccounts(tx, tenantId)).map((a) => a.id);
    const roleOf = async (roleId: string) => {
      const role = await findRoleInAccounts(tx, accounts, roleId);
      if (!role) throw new AppError(SsoErrors['sso.role_not_found'], { message: `The role ${roleId} does not exist in an account of this tenant.` });
      if (role.system_key === ACCOUNT_ADMIN.systemKey) throw new AppError(SsoErrors.sso_role_forbidden);
      return role;
    };
    const given: Grant[] = [];
    if (defaultRoleId) {
      const role = await roleOf(defaultRoleId);
      given.push({ accountId: role.account_id, keys: role.permissions, organizationId: role.organization_id, until: null });
    }
    for (const [i, rule] of rules.entries()) {
      const role = await roleOf(rule.roleId);
      if (rule.organizationId && !(await organizationExists(tx, role.account_id, rule.organizationId))) {
        throw new AppError(SsoErrors['sso.invalid_rule'], { message: `Rule ${i + 1}: the organization is not one of the role's account.` });
      }
      given.push({ accountId: role.account_id, keys: role.permissions, organizationId: rule.organizationId ?? role.organization_id, until: null });
    }
    // The grant rule (rbac): a connection gives its roles to every user who signs in through it, without end, so
    // whoever configures them must hold their permissions in that scope without end.
    if (given.length > 0) {
      // A setup link the operator created acts for no user: nobody holds what its roles would give.
      const granterId = actingUserId(actor);
      if (granterId === null) throw new AppError(SsoErrors.sso_role_forbidden, { message: 'A setup link created by the operator cannot give roles; a tenant administrator sets the mapping rules.' });
      await grants.assertWithinOwnAccess(tx, { tenantId, userId: granterId }, given, {
        change: 'sso.connection.roles',
        target: connectionId ? { type: 'sso_connection', id: connectionId } : null,
        details: { defaultRoleId, ruleRoles: rules.map((r) => r.roleId) },
      });
    }
  }


  function checkOidc(oidc: OidcConfig, secret: string | null): OidcConfig {
    checkIssuerUrl(oidc.issuer, network);
    if (oidc.clientKeyAlg === undefined) oidc = { ...oidc, clientKeyAlg: DEFAULT_CLIENT_KEY_ALG };
    const checked = { ...oidc, scopes: checkScopes(oidc.scopes), caBundlePem: oidc.caBundlePem ? checkCaBundle(oidc.caBundlePem) : null };
    // RFC 7518 §3.2: an HMAC key at least as long as the hash; HS256 id_tokens are keyed with the client secret.
    if (checked.idTokenSignedResponseAlg === 'HS256' && secret !== null && Buffer.byteLength(secret) < 32) {
      throw configError('HS256 id_tokens are keyed with the client secret, which must then be at least 32 bytes (RFC 7518 §3.2).');
    }
    return checked;
  }

  /**
   * The discovery document, which must offer private_key_jwt and the key's algorithm when the connection uses
   * them (OpenID Connect Discovery 1.0 §3: `token_endpoint_auth_methods_supported` defaults to
   * client_secret_basic when absent; `token_endpoint_auth_signing_alg_values_supported`).
   */
  async function discover(oidc: OidcConfig): Promise<DiscoveryDocument> {
    const document = await discoverIssuer({ issuer: oidc.issuer, clientId: oidc.clientId, caBundlePem: oidc.caBundlePem, idTokenAlg: oidc.idTokenSignedResponseAlg }, network);
    if (oidc.tokenEndpointAuthMethod === 'private_key_jwt') {
      const methods = document.token_endpoint_auth_methods_supported;
      if (!Array.isArray(methods) || !methods.includes('private_key_jwt')) throw configError('The IdP does not offer private_key_jwt at its token endpoint (token_endpoint_auth_methods_supported).');
      const algs = document.token_endpoint_auth_signing_alg_values_supported;
      const alg = oidc.clientKeyAlg ?? DEFAULT_CLIENT_KEY_ALG;
      if (Array.isArray(algs) && !algs.includes(alg)) throw configError(`The IdP does not accept ${alg} client assertions (it accepts ${algs.join(', ')}); choose another clientKeyAlg.`);
    }
    return document;
  }

  /**
   * Generates a new private_key_jwt key pair and makes it the current one: its private key, encrypted, replaces
   * the previous private key; its public key goes first in the published JWKS, the previous public keys stay
   * (rotation with overlap) until removed. Audited `sso.connection.key_rotated`.
   */
  async function installClientKey(tx: Tx, tenantId: string, actor: UserActor, row: store.ConnectionRow, alg: string, now: Date): Promise<PublicJwk> {
    const previous = clientKeysOf(row);
    if (previous.length >= MAX_CLIENT_KEYS) throw configError(`The connection already publishes ${MAX_CLIENT_KEYS} keys; remove a previous one first (DELETE …/keys/{kid}).`);
    const { publicKey, privateJwk } = await generateClientKey(alg);
    const keyEnc = await keyring.encrypt(tx, tenantId, keyField(row.id, publicKey.kid), JSON.stringify(privateJwk));
    await store.setClientKeys(tx, tenantId, row.id, { keys: [publicKey, ...previous] }, keyEnc, actingUserId(actor), now);
    await audit.record(tx, tenantId, { action: 'sso.connection.key_rotated', actor, target: { type: 'sso_connection', id: row.id }, outcome: 'success', details: { name: row.name, kid: publicKey.kid, alg, previousKids: previous.map((k) => k.kid) } });
    return publicKey;
  }

  /**
   * SAML: generates a new SP key pair and certificate and makes it the current one (it signs from now on); the
   * previous key stays, published and tried for decryption, until removed (rotation with overlap). The private key
   * is encrypted with the tenant's data key (DESIGN §4). Audited `sso.connection.sp_key_rotated`.
   */
  async function installSpKey(tx: Tx, tenantId: string, actor: UserActor, row: store.ConnectionRow, now: Date): Promise<void> {
    const previous = spKeysOf(row);
    if (previous.length >= MAX_SP_KEYS) throw configError(`The connection already has ${MAX_SP_KEYS} SP keys; remove the previous one first (DELETE …/sp-keys/{keyId}).`);
    const key = generateSpKey(row.id, now);
    const privateKeyEnc = (await keyring.encrypt(tx, tenantId, spKeyField(row.id, key.id), key.privateKeyPem)).toString('base64');
    const stored: StoredSpKey = { id: key.id, certificatePem: key.certificatePem, createdAt: now.toISOString(), privateKeyEnc };
    await store.setSamlSpKeys(tx, tenantId, row.id, { keys: [stored, ...previous] as unknown as Record<string, unknown>[] }, actingUserId(actor), now);
    const view = spKeyView(stored, true);
    await audit.record(tx, tenantId, { action: 'sso.connection.sp_key_rotated', actor, target: { type: 'sso_connection', id: row.id }, outcome: 'success', details: { name: row.name, keyId: key.id, fingerprintSha256: view.fingerprintSha256, notAfter: view.notAfter, previousKeyIds: previous.map((k) => k.id) } });
  }

  async function findOrThrow(tx: Tx, tenantId: string, id: string, forUpdate = false) {
    const row = await store.findConnection(tx, tenantId, id, forUpdate);
    if (!row) throw notFound();
    return row;
  }

  const valuesOf = (row: store.ConnectionRow): store.ConnectionValues => ({
    name: row.name,
    enabled: row.enabled,
    domains: row.domains,
    defaultRoleId: row.default_role_id,
    rulesMode: row.rules_mode,
    rules: row.rules,
    claimMapping: row.claim_mapping,
    mfaPolicy: row.mfa_policy,
    config: row.config,
    discovery: row.discovery,
    discoveryFetchedAt: row.discovery_fetched_at && new Date(row.discovery_fetched_at),
  });

  async function setEnabled(tenantId: string, actor: UserActor, id: string, enabled: boolean): Promise<Connection> {
    return db.tenantWork(tenantId, async (tx) => {
      await requireAdmin(tx, tenantId, actor);
      const row = await findOrThrow(tx, tenantId, id, true);
      if (row.enabled === enabled) return represent(row);
      if (enabled && row.type === 'oidc') {
        const privateKeyJwt = (row.config as unknown as OidcConfig).tokenEndpointAuthMethod === 'private_key_jwt';
        const credential = privateKeyJwt ? row.client_key_enc : row.client_secret_enc;
        if (!row.discovery || credential === null) throw configError(privateKeyJwt ? 'Refresh the discovery document and rotate the client key before enabling the connection.' : 'Refresh the discovery document and set a client secret before enabling the connection.');
      }
      await store.updateConnection(tx, tenantId, id, { ...valuesOf(row), enabled, actorId: actingUserId(actor), now: clock.now() });
      const after = represent((await store.findConnection(tx, tenantId, id))!);
      await audit.record(tx, tenantId, { action: enabled ? 'sso.connection.enabled' : 'sso.connection.disabled', actor, target: { type: 'sso_connection', id }, outcome: 'success', details: { name: row.name } });
      return after;
    });
  }

  /**
   * A new connection's row, in the caller's unit of work: the administrator, the roles its rules hand out, the name,
   * then the insert (with what the protocol adds: its secret, its client key) and the audit `sso.connection.created`.
   */
  async function insertNew(
    tx: Tx, tenantId: string, actor: UserActor, input: CreateConnectionInput,
    protocol: { config: Record<string, unknown>; discovery: DiscoveryDocument | null; fetched: boolean; secret?: (id: string) => Promise<Buffer | null>; after?: (id: string, now: Date) => Promise<void>; id?: string | undefined },
  ): Promise<Connection> {
    await requireAdmin(tx, tenantId, actor);
    await checkRoles(tx, tenantId, actor, input.defaultRoleId, input.rules);
    if (await store.nameTaken(tx, tenantId, input.name)) throw new AppError(SsoErrors['sso.name_taken']);
    const now = clock.now();
    const id = protocol.id ?? newId(now.getTime());
    await store.insertConnection(tx, tenantId, {
      id, type: input.type, name: input.name, enabled: input.enabled, domains: [...new Set(input.domains)], defaultRoleId: input.defaultRoleId, rulesMode: input.rulesMode, rules: input.rules,
      claimMapping: input.claimMapping, mfaPolicy: input.mfaPolicy, config: protocol.config, discovery: protocol.discovery, discoveryFetchedAt: protocol.fetched ? now : null,
      secret: protocol.secret ? await protocol.secret(id) : null, actorId: actingUserId(actor), now,
    });
    await protocol.after?.(id, now);
    const created = represent((await store.findConnection(tx, tenantId, id))!);
    await audit.record(tx, tenantId, { action: 'sso.connection.created', actor, target: { type: 'sso_connection', id }, outcome: 'success', details: { after: auditView(created) } });
    return created;
  }

  /**
   * SAML: the IdP metadata fetched again from its URL (the IdP rotated its certificate or moved an endpoint); what
   * it lists replaces the imported settings. Audited `sso.connection.updated` with the before and after.
   */
  async function refreshSamlMetadata(tenantId: string, actor: UserActor, row: store.ConnectionRow): Promise<Connection> {
    const config = row.config as unknown as SamlConfig;
    if (!config.metadataUrl) throw configError('This SAML connection was not imported from a metadata URL (saml.metadataUrl).');
    const fetchedMetadataXml = await fetchIdpMetadata(config.metadataUrl, network);
    return db.tenantWork(tenantId, async (tx) => {
      await requireAdmin(tx, tenantId, actor);
      const locked = await findOrThrow(tx, tenantId, row.id, true);
      if (JSON.stringify(locked.config) !== JSON.stringify(row.config)) throw configError('The connection changed during the refresh; refresh again.');
      const saml = resolveSamlConfig({ fetchedMetadataXml }, locked.config as unknown as SamlConfig);
      const before = represent(locked);
      await store.updateConnection(tx, tenantId, row.id, { ...valuesOf(locked), config: { ...saml }, discoveryFetchedAt: clock.now(), actorId: actingUserId(actor), now: clock.now() });
      const after = represent((await store.findConnection(tx, tenantId, row.id))!);
      await audit.record(tx, tenantId, { action: 'sso.connection.updated', actor, target: { type: 'sso_connection', id: row.id }, outcome: 'success', details: { before: auditView(before), after: auditView(after), reason: 'metadata_refresh' } });
      return after;
    });
  }

  /**
   * One connection's scheduled refresh: its metadata fetched again (outside any unit of work), then applied to the
   * locked row unless it changed meanwhile. A new certificate set or endpoint is audited
   * `sso.connection.metadata_refreshed` (before/after fingerprints); a failed fetch or an unusable document keeps
   * the stored settings — the connection is never disabled by it — and is audited
   * `sso.connection.metadata_refresh_failed`. Returns whether the settings changed.
   */
  async function refreshOne(tenantId: string, row: store.ConnectionRow): Promise<'changed' | 'unchanged' | 'failed'> {
    const config = row.config as unknown as SamlConfig;
    const failed = async (reason: string) => {
      await db.tenantWork(tenantId, (tx) => audit.record(tx, tenantId, { action: 'sso.connection.metadata_refresh_failed', actor: METADATA_JOB_ACTOR, target: { type: 'sso_connection', id: row.id }, outcome: 'failure', errorCode: SsoErrors.sso_config, details: { name: row.name, metadataUrl: config.metadataUrl, reason: reason.slice(0, 300) } }));
      return 'failed' as const;
    };
    let next: SamlConfig;
    try {
      next = resolveSamlConfig({ fetchedMetadataXml: await fetchIdpMetadata(config.metadataUrl!, network) }, config);
    } catch (err) {
      if (err instanceof AppError) return failed(err.message);
      throw err;
    }
    // jsonb keeps its own key order: compared member by member.
    const canonical = (c: SamlConfig) => JSON.stringify(Object.fromEntries(Object.entries(c).sort(([x], [y]) => x.localeCompare(y))));
    if (canonical(next) === canonical(config)) {
      await db.tenantWork(tenantId, async (tx) => {
        const locked = await store.findConnection(tx, tenantId, row.id, true);
        if (locked && JSON.stringify(locked.config) === JSON.stringify(row.config)) await store.setFetchedAt(tx, tenantId, row.id, clock.now());
      });
      return 'unchanged';
    }
    return db.tenantWork(tenantId, async (tx) => {
      const locked = await store.findConnection(tx, tenantId, row.id, true);
      // Deleted or changed by an administrator meanwhile: the next pass starts from the new settings.
      if (!locked || JSON.stringify(locked.config) !== JSON.stringify(row.config)) return 'unchanged';
      await store.updateConnection(tx, tenantId, row.id, { ...valuesOf(locked), config: { ...next }, discoveryFetchedAt: clock.now(), actorId: null, now: clock.now() });
      const fingerprints = (c: SamlConfig) => certificateInfos(c).map((i) => i.fingerprintSha256);
      await audit.record(tx, tenantId, {
        action: 'sso.connection.metadata_refreshed', actor: METADATA_JOB_ACTOR, target: { type: 'sso_connection', id: row.id }, outcome: 'success',
        details: { name: row.name, metadataUrl: config.metadataUrl, before: { certificates: fingerprints(config), idpEntityId: config.idpEntityId, ssoUrl: config.ssoUrl, sloUrl: config.sloUrl }, after: { certificates: fingerprints(next), idpEntityId: next.idpEntityId, ssoUrl: next.ssoUrl, sloUrl: next.sloUrl } },
      });
      return 'changed';
    });
  }

  /** Every SAML connection imported from a metadata URL, refreshed once; one instance at a time on PostgreSQL. */
  async function refreshMetadataPass(): Promise<{ changed: number; failed: number } | null> {
    const run = async () => {
      let changed = 0;
      let failed = 0;
      for (const tenantId of await db.ownerWork((tx) => (tenantIds ? tenantIds(tx) : Promise.resolve([])))) {
        const rows = (await db.tenantWork(tenantId, (tx) => store.listConnections(tx, tenantId))).filter((r) => r.type === 'saml' && (r.config as unknown as SamlConfig).metadataUrl);
        for (const row of rows) {
          const outcome = await refreshOne(tenantId, row);
          if (outcome === 'changed') changed++;
          if (outcome === 'failed') failed++;
        }
      }
      return { changed, failed };
    };
    // The embedded database has one process: no other instance to exclude (and one connection to hold).
    if (db.engine === 'pglite') return run();
    return db.globalWork(async (tx) => ((await tryAdvisoryXactLock(tx, METADATA_REFRESH_LOCK)) ? run() : null));
  }

  return {
    refreshMetadataPass,
    /** Started by `serve`: a first pass ten minutes after start, then every 6 hours. */
    startMetadataRefresh({ log, intervalMs = 6 * 3_600_000, firstMs = 10 * 60_000 }: { log: JobLog; intervalMs?: number; firstMs?: number }): PeriodicJob {
      return startPeriodicJob('saml-metadata-refresh', refreshMetadataPass, { log, intervalMs, firstMs });
    },

    /** Whether the connection is one of the tenant's (a SCIM directory links to one), in the caller's unit of work. */
    async exists(tx: Tx, tenantId: string, id: string): Promise<boolean> {
      return (await store.findConnection(tx, tenantId, id)) !== undefined;
    },

    list(tenantId: string): Promise<Connection[]> {
      return db.tenantWork(tenantId, async (tx) => (await store.listConnections(tx, tenantId)).map(represent));
    },

    get(tenantId: string, id: string): Promise<Connection> {
      return db.tenantWork(tenantId, async (tx) => represent(await findOrThrow(tx, tenantId, id)));
    },

    /**
     * Creates a connection. OIDC: the settings are checked, then the issuer's discovery document is fetched
     * (outside the transaction: no network inside a unit of work) and must name the issuer exactly. `options.id`:
     * an id reserved ahead (a setup link shows the SP values, which carry the id, before the connection exists).
     */
    async create(tenantId: string, actor: UserActor, input: CreateConnectionInput, options: { id?: string } = {}): Promise<Connection> {
      checkRulePatterns(input.rules);
      // SAML: the settings (metadata import or fields) are checked; nothing is fetched.
      if (input.type === 'saml') {
        // A metadata URL is fetched first (outside the transaction: no network inside a unit of work).
        const fetched = input.saml.metadataUrl ? await fetchIdpMetadata(input.saml.metadataUrl, network) : undefined;
        const saml = resolveSamlConfig({ ...input.saml, ...(fetched !== undefined ? { fetchedMetadataXml: fetched } : {}) }, null);
        return grants.refusalsRecorded(tenantId, actor, (tx) =>
          insertNew(tx, tenantId, actor, input, {
            id: options.id,
            config: { ...saml },
            discovery: null,
            fetched: fetched !== undefined,
            // Every SAML connection gets its SP key at once: its certificate is in the SP metadata the IdP imports.
            after: async (id, now) => installSpKey(tx, tenantId, actor, (await store.findConnection(tx, tenantId, id))!, now),
          }),
        );
      }
      const { clientSecret, ...settings } = input.oidc;
      // OpenID Connect Core §9: the client secret authenticates client_secret_basic/post; private_key_jwt needs none.
      if (clientSecret === undefined && settings.tokenEndpointAuthMethod !== 'private_key_jwt') throw configError(`A client secret is required with ${settings.tokenEndpointAuthMethod}.`);
      const oidc = checkOidc(settings, clientSecret ?? null);
      // Checked before the network call too, so that a refused caller learns nothing about the issuer.
      await grants.refusalsRecorded(tenantId, actor, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        await checkRoles(tx, tenantId, actor, input.defaultRoleId, input.rules);
      });
      const discovery = await discover(oidc);
      return grants.refusalsRecorded(tenantId, actor, (tx) =>
        insertNew(tx, tenantId, actor, input, {
          id: options.id,
          config: { ...oidc },
          discovery,
          fetched: true,
          secret: (id) => (clientSecret === undefined ? Promise.resolve(null) : keyring.encrypt(tx, tenantId, secretField(id), clientSecret)),
          after: async (id, now) => {
            if (oidc.tokenEndpointAuthMethod === 'private_key_jwt') await installClientKey(tx, tenantId, actor, (await store.findConnection(tx, tenantId, id))!, oidc.clientKeyAlg ?? DEFAULT_CLIENT_KEY_ALG, now);
          },
        }),
      );
    },

    /** Changes settings; a change of the OIDC settings fetches the discovery document again before saving. */
    async update(tenantId: string, actor: UserActor, id: string, patch: UpdateConnectionInput): Promise<Connection> {
      if (patch.rules) checkRulePatterns(patch.rules);
      const current = await db.tenantWork(tenantId, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        return findOrThrow(tx, tenantId, id);
      });
      let oidc: OidcConfig | undefined;
      let discovery: DiscoveryDocument | undefined;
      if (patch.oidc && current.type === 'oidc') {
        const before = current.config as unknown as OidcConfig;
        oidc = checkOidc({ ...before, ...Object.fromEntries(Object.entries(patch.oidc).filter(([, v]) => v !== undefined)) }, null);
        discovery = await discover(oidc);
      }
      if (patch.oidc && current.type !== 'oidc') throw configError('`oidc` settings apply to OIDC connections only.');
      if (patch.saml && current.type !== 'saml') throw configError('`saml` settings apply to SAML connections only.');
      const fetchedMetadataXml = patch.saml?.metadataUrl ? await fetchIdpMetadata(patch.saml.metadataUrl, network) : undefined;
      return grants.refusalsRecorded(tenantId, actor, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await findOrThrow(tx, tenantId, id, true);
        // Pure (no network): resolved on the locked row, so a concurrent change is not lost.
        const saml = patch.saml && resolveSamlConfig({ ...patch.saml, ...(fetchedMetadataXml !== undefined ? { fetchedMetadataXml } : {}) }, row.config as unknown as SamlConfig);
        const rules = (patch.rules ?? row.rules) as Rule[];
        const defaultRoleId = patch.defaultRoleId === undefined ? row.default_role_id : patch.defaultRoleId;
        if (patch.rules !== undefined || patch.defaultRoleId !== undefined) await checkRoles(tx, tenantId, actor, defaultRoleId, rules, id);
        if (patch.name !== undefined && (await store.nameTaken(tx, tenantId, patch.name, id))) throw new AppError(SsoErrors['sso.name_taken']);
        const before = represent(row);
        const now = clock.now();
        await store.updateConnection(tx, tenantId, id, {
          ...valuesOf(row),
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.domains !== undefined ? { domains: [...new Set(patch.domains)] } : {}),
          defaultRoleId,
          rules,
          ...(patch.rulesMode !== undefined ? { rulesMode: patch.rulesMode } : {}),
          ...(patch.claimMapping !== undefined ? { claimMapping: patch.claimMapping } : {}),
          ...(patch.mfaPolicy !== undefined ? { mfaPolicy: patch.mfaPolicy } : {}),
          ...(oidc && discovery ? { config: { ...oidc }, discovery, discoveryFetchedAt: now } : {}),
          // Imported from a URL just now: fetched now; no longer from a URL: nothing is fetched any more.
          ...(saml ? { config: { ...saml }, discoveryFetchedAt: fetchedMetadataXml !== undefined ? now : saml.metadataUrl ? valuesOf(row).discoveryFetchedAt : null } : {}),
          actorId: actingUserId(actor),
          now,
        });
        // Switching to private_key_jwt, or to another key algorithm, needs a key of that algorithm.
        if (oidc && oidc.tokenEndpointAuthMethod === 'private_key_jwt' && (row.client_key_enc === null || clientKeysOf(row)[0]?.alg !== oidc.clientKeyAlg)) {
          await installClientKey(tx, tenantId, actor, (await store.findConnection(tx, tenantId, id))!, oidc.clientKeyAlg ?? DEFAULT_CLIENT_KEY_ALG, now);
        }
        const after = represent((await store.findConnection(tx, tenantId, id))!);
        await audit.record(tx, tenantId, { action: 'sso.connection.updated', actor, target: { type: 'sso_connection', id }, outcome: 'success', details: { before: auditView(before), after: auditView(after) } });
        return after;
      });
    },

    enable: (tenantId: string, actor: UserActor, id: string) => setEnabled(tenantId, actor, id, true),
    disable: (tenantId: string, actor: UserActor, id: string) => setEnabled(tenantId, actor, id, false),

    remove(tenantId: string, actor: UserActor, id: string): Promise<void> {
      return grants.refusalsRecorded(tenantId, actor, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await findOrThrow(tx, tenantId, id, true);
        // The roles its mapping rules gave go with it (README "Mapping rules"): a deleted connection manages nothing.
        const removedAssignments = await removeManagedAssignments(tx, tenantId, `sso:${id}`);
        await store.deleteConnection(tx, tenantId, id);
        await audit.record(tx, tenantId, { action: 'sso.connection.deleted', actor, target: { type: 'sso_connection', id }, outcome: 'success', details: { before: auditView(represent(row)), removedAssignments } });
      });
    },

    /** Replaces the client secret (the IdP rotated it); the old one is gone, the new one never returned. */
    rotateSecret(tenantId: string, actor: UserActor, id: string, clientSecret: string): Promise<Connection> {
      return grants.refusalsRecorded(tenantId, actor, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await findOrThrow(tx, tenantId, id, true);
        if (row.type !== 'oidc') throw configError('Only OIDC connections have a client secret.');
        checkOidc(row.config as unknown as OidcConfig, clientSecret);
        await store.setSecret(tx, tenantId, id, await keyring.encrypt(tx, tenantId, secretField(id), clientSecret), actingUserId(actor), clock.now());
        await audit.record(tx, tenantId, { action: 'sso.connection.secret_rotated', actor, target: { type: 'sso_connection', id }, outcome: 'success', details: { name: row.name } });
        return represent((await store.findConnection(tx, tenantId, id))!);
      });
    },

    /** Fetches the issuer's discovery document again (the IdP moved an endpoint or published new algorithms). */
    async refreshDiscovery(tenantId: string, actor: UserActor, id: string): Promise<Connection> {
      const row = await db.tenantWork(tenantId, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        return findOrThrow(tx, tenantId, id);
      });
      if (row.type === 'saml') return refreshSamlMetadata(tenantId, actor, row);
      if (row.type !== 'oidc') throw configError('Only OIDC connections have a discovery document.');
      const discovery = await discover(row.config as unknown as OidcConfig);
      return db.tenantWork(tenantId, async (tx) => {
        const locked = await findOrThrow(tx, tenantId, id, true);
        // The settings changed while we fetched: this document may belong to the old issuer.
        if (JSON.stringify(locked.config) !== JSON.stringify(row.config)) throw configError('The connection changed during the refresh; refresh again.');
        const before = represent(locked).oidc?.discovery ?? null;
        await store.updateConnection(tx, tenantId, id, { ...valuesOf(locked), discovery, discoveryFetchedAt: clock.now(), actorId: actingUserId(actor), now: clock.now() });
        const after = represent((await store.findConnection(tx, tenantId, id))!);
        // A privileged change of what sign-in trusts (endpoints, algorithms): audited with the summary before and after.
        await audit.record(tx, tenantId, { action: 'sso.connection.discovery_refreshed', actor, target: { type: 'sso_connection', id }, outcome: 'success', details: { name: locked.name, before, after: after.oidc?.discovery ?? null } });
        return after;
      });
    },

    /** private_key_jwt: a new key pair becomes the current one; the previous public keys stay published until removed. */
    rotateClientKey(tenantId: string, actor: UserActor, id: string): Promise<Connection> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await findOrThrow(tx, tenantId, id, true);
        const oidc = row.type === 'oidc' ? (row.config as unknown as OidcConfig) : null;
        if (oidc?.tokenEndpointAuthMethod !== 'private_key_jwt') throw configError('Only a connection using private_key_jwt has client keys; set tokenEndpointAuthMethod first.');
        await installClientKey(tx, tenantId, actor, row, oidc.clientKeyAlg ?? DEFAULT_CLIENT_KEY_ALG, clock.now());
        return represent((await store.findConnection(tx, tenantId, id))!);
      });
    },

    /** Stops publishing a previous public key (after the IdP has the new one); the current key cannot be removed. */
    removeClientKey(tenantId: string, actor: UserActor, id: string, kid: string): Promise<Connection> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await findOrThrow(tx, tenantId, id, true);
        const keys = clientKeysOf(row);
        const index = keys.findIndex((k) => k.kid === kid);
        if (index < 0) throw new AppError(SsoErrors['sso.key_not_found']);
        if (index === 0 && row.client_key_enc !== null) throw new AppError(SsoErrors['sso.key_in_use']);
        const rest = keys.filter((k) => k.kid !== kid);
        await store.setClientKeys(tx, tenantId, id, rest.length > 0 ? { keys: rest } : null, row.client_key_enc === null ? null : Buffer.from(row.client_key_enc), actingUserId(actor), clock.now());
        await audit.record(tx, tenantId, { action: 'sso.connection.key_removed', actor, target: { type: 'sso_connection', id }, outcome: 'success', details: { name: row.name, kid } });
        return represent((await store.findConnection(tx, tenantId, id))!);
      });
    },

    /** SAML: a new SP key pair becomes the current one; the previous stays published (and decrypts) until removed. */
    rotateSpKey(tenantId: string, actor: UserActor, id: string): Promise<Connection> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await findOrThrow(tx, tenantId, id, true);
        if (row.type !== 'saml') throw configError('Only SAML connections have SP keys.');
        await installSpKey(tx, tenantId, actor, row, clock.now());
        return represent((await store.findConnection(tx, tenantId, id))!);
      });
    },

    /** SAML: removes a previous SP key (once the IdP uses the new certificate); the current key cannot be removed. */
    removeSpKey(tenantId: string, actor: UserActor, id: string, keyId: string): Promise<Connection> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await findOrThrow(tx, tenantId, id, true);
        const keys = spKeysOf(row);
        const index = keys.findIndex((k) => k.id === keyId);
        if (index < 0) throw new AppError(SsoErrors['sso.sp_key_not_found']);
        if (index === 0) throw new AppError(SsoErrors['sso.sp_key_in_use']);
        const removed = spKeyView(keys[index]!, false);
        await store.setSamlSpKeys(tx, tenantId, id, { keys: keys.filter((k) => k.id !== keyId) as unknown as Record<string, unknown>[] }, actingUserId(actor), clock.now());
        await audit.record(tx, tenantId, { action: 'sso.connection.sp_key_removed', actor, target: { type: 'sso_connection', id }, outcome: 'success', details: { name: row.name, keyId, fingerprintSha256: removed.fingerprintSha256 } });
        return represent((await store.findConnection(tx, tenantId, id))!);
      });
    },

    /** SAML: the connection's SP keys decrypted, the current first, for the sign-in flow inside its own unit of work. */
    async samlSpKeys(tx: Tx, tenantId: string, row: { id: string; saml_sp_keys: unknown }): Promise<SpKey[]> {
      return Promise.all(spKeysOf(row).map(async (k) => ({ id: k.id, certificatePem: k.certificatePem, privateKeyPem: await keyring.decryptString(tx, tenantId, spKeyField(row.id, k.id), Buffer.from(k.privateKeyEnc, 'base64')) })));
    },

    /** The public JWKS of a connection, for the IdP (no authentication: public keys only); unknown: not found. */
    async publicClientJwks(connectionId: string): Promise<{ keys: PublicJwk[] }> {
      const tenantId = await db.globalWork((tx) => store.connectionTenant(tx, connectionId));
      if (!tenantId) throw notFound();
      const row = await db.tenantWork(tenantId, (tx) => store.findConnection(tx, tenantId, connectionId));
      if (!row) throw notFound();
      return { keys: clientKeysOf(row) };
    },

    /** The current private_key_jwt key, for the sign-in flow inside its own unit of work; null when there is none. */
    async clientKey(tx: Tx, tenantId: string, row: { id: string; client_jwks: unknown; client_key_enc: Uint8Array | null }): Promise<{ key: jose.CryptoKey; kid: string } | null> {
      const current = ((row.client_jwks as { keys?: PublicJwk[] } | null)?.keys ?? [])[0];
      if (row.client_key_enc === null || !current) return null;
      const jwk = JSON.parse(await keyring.decryptString(tx, tenantId, keyField(row.id, current.kid), row.client_key_enc)) as jose.JWK;
      return { key: (await jose.importJWK(jwk, current.alg)) as jose.CryptoKey, kid: current.kid };
    },

    /** The decrypted client secret, for the sign-in flow inside its own unit of work. */
    clientSecret(tx: Tx, tenantId: string, row: { id: string; client_secret_enc: Uint8Array | null }): Promise<string | null> {
      return row.client_secret_enc === null ? Promise.resolve(null) : keyring.decryptString(tx, tenantId, secretField(row.id), row.client_secret_enc);
    },
  };
}

export type SsoService = ReturnType<typeof createSsoService>;
