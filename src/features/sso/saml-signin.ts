import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { SAML } from '@node-saml/node-saml';
import type { MasterKeys } from '../../crypto/master-key.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { AuditRecorder } from '../audit/index.js';
import type { RequestMeta } from '../sessions/index.js';
import { NAMEID_EMAIL, SAML_SLO_PATH, type SamlConfig, spEndpoints } from './saml-config.js';
import { acceptedSignatureAlgorithm, checkAlgorithms, SamlRefused, verifySamlResponse } from './saml-response.js';
import { attr, child, NS, parseXmlStrict, XmlRefused } from './saml-xml.js';
import { SsoErrors } from './sso.errors.js';
import type { SpKey } from './saml-sp-keys.js';
import { refused, type SignInCore, type SignInFlow } from './signin-core.js';
import { createCookieSealer, type SamlTransaction, TRANSACTION_TTL_SECONDS } from './sso-transaction.js';
import { spentId } from './spent-id.js';
import * as store from './sso.store.js';

/**
 * AuthnContextClassRef values that count as a second factor when the connection lists none in
 * `mfaPolicy.acceptedAcr` (REFEDS MFA Profile; Entra ID / ADFS multipleauthn; saml-authn-context §3.4).
 */
export const DEFAULT_MFA_AUTHN_CONTEXTS = [
  'https://refeds.org/profile/mfa',
  'http://schemas.microsoft.com/claims/multipleauthn',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken',
];

export interface SamlSignInDeps {
  readonly db: Database;
  readonly masterKeys: MasterKeys;
  readonly publicUrl: string;
  readonly now: () => Date;
  /** The connection's SP keys decrypted, the current first (sso.service `samlSpKeys`). */
  readonly samlSpKeys: (tx: Tx, tenantId: string, row: store.ConnectionRow) => Promise<SpKey[]>;
  readonly audit: AuditRecorder;
  /** sessions: ends the live sessions that came from these logins, in the caller's unit of work; the ids ended. */
  readonly revokeSessionsFromSource: (tx: Tx, tenantId: string, sourceIds: readonly string[], reason: string) => Promise<string[]>;
}

/** A LogoutRequest as the IdP sent it: HTTP-Redirect (query, with the raw query string) or HTTP-POST (form). */
export type LogoutMessage =
  | { readonly binding: 'redirect'; readonly query: { SAMLRequest: string; RelayState?: string | undefined; SigAlg?: string | undefined; Signature?: string | undefined }; readonly rawQuery: string }
  | { readonly binding: 'post'; readonly body: { SAMLRequest: string; RelayState?: string | undefined } };

/** What /auth/sso/start answers for a SAML connection: a redirect (HTTP-Redirect) or an auto-submitted form (HTTP-POST). */
export type SamlStart = { readonly location: string; readonly transaction: string } | { readonly form: { readonly action: string; readonly fields: Readonly<Record<string, string>> }; readonly transaction: string };

/**
 * SAML 2.0 Web Browser SSO, SP-initiated (saml-profiles §4.1): the AuthnRequest (its ID in the browser's sealed
 * 10-minute transaction), then the Response at the ACS (HTTP-POST binding), verified by saml-response.ts; the
 * assertion's ID is spent on every instance until it expires; then the shared rest (signin-core.ts `finish`).
 */
export function createSamlSignIn(deps: SamlSignInDeps, core: SignInCore) {
  const transactions = createCookieSealer(deps.masterKeys, 'saml-transaction');

  function samlFor(row: store.ConnectionRow, config: SamlConfig, requestId: string, signingKey: SpKey | null): SAML {
    const { spEntityId, acsUrl } = spEndpoints(deps.publicUrl, row.id);
    return new SAML({
      callbackUrl: acsUrl,
      entryPoint: config.ssoUrl,
      issuer: spEntityId,
      idpCert: [...config.certificates],
      generateUniqueId: () => requestId,
      // No NameIDPolicy nor RequestedAuthnContext: the IdP's configured NameID, and its own choice of method
      // (a requested password context would make ADFS refuse MFA).
      identifierFormat: null,
      disableRequestedAuthnContext: true,
      // saml-bindings §3.5.4: the HTTP-POST binding sends the request base64-encoded, not DEFLATEd (§3.4.4.1).
      ...(config.ssoBinding === 'post' ? { authnRequestBinding: 'HTTP-POST', skipRequestCompression: true } : {}),
      // saml-bindings §3.4.4.1 (Redirect: the query string is signed) / §3.5.4 (POST: an enveloped XML signature),
      // RSA-SHA256 (RFC 6931 §2.3.2; SHA-1 is never used for what we sign).
      ...(signingKey ? { privateKey: signingKey.privateKeyPem, publicCert: signingKey.certificatePem, signatureAlgorithm: 'sha256' as const, digestAlgorithm: 'sha256' as const } : {}),
    });
  }

  /**
   * An IdP-initiated Response (saml-profiles §4.1.5): the flow of a connection that accepts them, with no request to
   * answer (the Response must then carry no InResponseTo) and RelayState as the return URL when the allow-list takes
   * it. Such a sign-in cannot be bound to the browser (login CSRF), hence off by default; its assertion is still
   * spent once, so a captured Response cannot be replayed.
   */
  async function idpInitiated(connectionId: string, relayState: string | undefined): Promise<Omit<SamlTransaction, 'requestId'> & { requestId: null }> {
    const tenantId = await deps.db.globalWork((t) => store.connectionTenant(t, connectionId));
    if (!tenantId) throw refused('sso_expired', 'No SAML sign-in through this connection is under way in this browser.');
    let returnTo: string | null = null;
    try {
      returnTo = await core.checkReturnTo(relayState, tenantId);
    } catch {
      returnTo = null;
    }
    return { tenantId, connectionId, requestId: null, returnTo, createdAt: core.nowSeconds() };
  }

  /**
   * IdP-initiated Single Logout (saml-profiles §4.4.3.2, saml-core §3.7): a LogoutRequest the IdP signed — by the
   * query-string signature of HTTP-Redirect (saml-bindings §3.4.4.1) or an enveloped signature on HTTP-POST —
   * with one of the connection's certificates, from its entity ID, to our SLO URL, ends the Tessera sessions that
   * came from the logins it names (NameID, and SessionIndex when given); the IdP gets a LogoutResponse at its SLO
   * URL. Unsigned, wrongly signed or otherwise invalid requests are refused and audited `sso.logout.failed`.
   */
  async function idpLogout(connectionId: string, message: LogoutMessage, meta: RequestMeta): Promise<{ location: string }> {
    const tenantId = await deps.db.globalWork((t) => store.connectionTenant(t, connectionId));
    const row = tenantId ? await deps.db.tenantWork(tenantId, (t) => store.findConnection(t, tenantId, connectionId)) : undefined;
    if (!tenantId || row?.type !== 'saml') throw new AppError(SsoErrors['sso.connection_not_found']);
    const config = row.config as unknown as SamlConfig;
    const { spEntityId, acsUrl } = spEndpoints(deps.publicUrl, row.id);
    const sloUrl = `${deps.publicUrl}${SAML_SLO_PATH.replace(':connectionId', row.id)}`;
    const actor = { type: 'system' as const, id: `sso:${row.id}`, ip: meta.ip, userAgent: meta.userAgent };
    const refuse = async (code: 'sso_signature' | 'sso_config' | 'sso_audience', reason: string): Promise<never> => {
      await deps.db.tenantWork(tenantId, (t) => deps.audit.record(t, tenantId, { action: 'sso.logout.failed', actor, target: { type: 'sso_connection', id: row.id }, outcome: 'failure', errorCode: SsoErrors[code], details: { initiatedBy: 'idp', binding: message.binding, reason: reason.slice(0, 200) } }));
      throw new AppError(SsoErrors[code], { message: reason });
    };
    if (!config.sloUrl) return refuse('sso_config', 'The connection has no IdP SLO URL to answer.');

    const samlRequest = message.binding === 'redirect' ? message.query.SAMLRequest : message.body.SAMLRequest;
    let xml: string;
    try {
      const bytes = Buffer.from(samlRequest, 'base64');
      xml = (message.binding === 'redirect' ? inflateRawSync(bytes, { maxOutputLength: 256 * 1024 }) : bytes).toString('utf8');
    } catch {
      return refuse('sso_signature', 'SAMLRequest is not a DEFLATE-compressed, base64-encoded message.');
    }
    let root;
    try {
      root = parseXmlStrict(xml).documentElement!;
      if (message.binding === 'post') checkAlgorithms(root, config.allowSha1);
    } catch (err) {
      if (err instanceof XmlRefused || err instanceof SamlRefused) return refuse('sso_signature', err.message);
      throw err;
    }
    if (root.localName !== 'LogoutRequest' || root.namespaceURI !== NS.protocol) return refuse('sso_signature', 'The message is not a SAML LogoutRequest.');
    // Unsigned requests are refused: node-saml accepts an HTTP-Redirect message without a signature.
    if (message.binding === 'redirect') {
      if (!message.query.Signature || !message.query.SigAlg) return refuse('sso_signature', 'The LogoutRequest is not signed.');
      if (!acceptedSignatureAlgorithm(message.query.SigAlg, config.allowSha1)) return refuse('sso_signature', `The signature algorithm ${message.query.SigAlg.slice(0, 100)} is not accepted.`);
    } else if (!child(root, NS.dsig, 'Signature')) {
      return refuse('sso_signature', 'The LogoutRequest is not signed.');
    }
    // saml-bindings §3.4.5.2 / §3.5.5.2: Destination, when present, is our SLO URL.
    const destination = attr(root, 'Destination');
    if (destination !== null && destination !== sloUrl) return refuse('sso_audience', 'The LogoutRequest\'s Destination is not this connection\'s SLO URL.');

    const signingKey = (await deps.db.tenantWork(tenantId, (t) => deps.samlSpKeys(t, tenantId, row)))[0] ?? null;
    const saml = new SAML({
      callbackUrl: acsUrl,
      issuer: spEntityId,
      idpCert: [...config.certificates],
      idpIssuer: config.idpEntityId,
      entryPoint: config.ssoUrl,
      logoutUrl: config.sloUrl,
      acceptedClockSkewMs: config.clockSkewSeconds * 1000,
      // Our LogoutResponse is signed when we hold a key (saml-bindings §3.4.4.1), RSA-SHA256.
      ...(signingKey ? { privateKey: signingKey.privateKeyPem, signatureAlgorithm: 'sha256' as const, digestAlgorithm: 'sha256' as const } : {}),
    });
    let profile;
    try {
      profile = (message.binding === 'redirect' ? await saml.validateRedirectAsync(message.query, message.rawQuery) : await saml.validatePostRequestAsync(message.body)).profile;
    } catch (err) {
      return refuse('sso_signature', `The LogoutRequest failed verification: ${String((err as Error)?.message ?? err)}`);
    }
    if (!profile?.nameID) return refuse('sso_signature', 'The LogoutRequest names no NameID.');
    const nameId = profile.nameID;
    const indexes = ([] as unknown[]).concat(profile.sessionIndex ?? []).filter((s): s is string => typeof s === 'string');
    const ended = await deps.db.tenantWork(tenantId, async (t) => {
      const logins = await store.findLoginIds(t, tenantId, row.id, nameId, indexes);
      const sessions = await deps.revokeSessionsFromSource(t, tenantId, logins, 'sso_logout');
      await deps.audit.record(t, tenantId, { action: 'sso.logout.idp_initiated', actor, target: { type: 'sso_connection', id: row.id }, outcome: 'success', details: { nameId: nameId.slice(0, 200), sessionIndexes: indexes.slice(0, 10), binding: message.binding, sessions: sessions.length } });
      return sessions.length;
    });
    void ended;
    const relayState = message.binding === 'redirect' ? message.query.RelayState : message.body.RelayState;
    return { location: await saml.getLogoutResponseUrlAsync(profile, relayState ?? '', {}, true) };
  }

  /**
   * SP-initiated Single Logout (saml-profiles §4.4.3.1): for a session ending at our logout that came from a SAML
   * login of a connection with an IdP SLO URL, the URL of a LogoutRequest (HTTP-Redirect, signed with the current
   * SP key when there is one) naming that login's NameID and SessionIndex; null otherwise. Audited
   * `sso.logout.sp_initiated`.
   */
  async function spLogoutUrl(tx: Tx, tenantId: string, sourceId: string, meta: RequestMeta): Promise<string | null> {
    const login = await store.findLogin(tx, tenantId, sourceId);
    const row = login ? await store.findConnection(tx, tenantId, login.connection_id) : undefined;
    if (!login || row?.type !== 'saml') return null;
    const config = row.config as unknown as SamlConfig;
    if (!config.sloUrl) return null;
    const { spEntityId, acsUrl } = spEndpoints(deps.publicUrl, row.id);
    const signingKey = (await deps.samlSpKeys(tx, tenantId, row))[0] ?? null;
    const saml = new SAML({
      callbackUrl: acsUrl,
      issuer: spEntityId,
      idpCert: [...config.certificates],
      entryPoint: config.ssoUrl,
      logoutUrl: config.sloUrl,
      ...(signingKey ? { privateKey: signingKey.privateKeyPem, signatureAlgorithm: 'sha256' as const, digestAlgorithm: 'sha256' as const } : {}),
    });
    const location = await saml.getLogoutUrlAsync({ issuer: config.idpEntityId, nameID: login.name_id, nameIDFormat: login.name_id_format ?? NAMEID_EMAIL, ...(login.session_index ? { sessionIndex: login.session_index } : {}) }, '', {});
    await deps.audit.record(tx, tenantId, { action: 'sso.logout.sp_initiated', actor: { type: 'user', id: login.user_id, ip: meta.ip, userAgent: meta.userAgent }, target: { type: 'sso_connection', id: row.id }, outcome: 'success', details: { nameId: login.name_id.slice(0, 200), sessionIndex: login.session_index, signed: signingKey !== null } });
    return location;
  }

  return {
    idpLogout,
    spLogoutUrl,

    /** GET /auth/sso/start for a SAML connection. */
    async start(row: store.ConnectionRow, flow: SignInFlow): Promise<SamlStart> {
      const config = row.config as unknown as SamlConfig;
      // xsd:ID is an NCName: it may not start with a digit (saml-core §1.3.4); 160 bits of randomness.
      const requestId = `_${randomBytes(20).toString('hex')}`;
      const tx: SamlTransaction = { tenantId: flow.tenantId, connectionId: flow.connectionId, requestId, returnTo: flow.returnTo, createdAt: core.nowSeconds(), ...(flow.test ? { test: flow.test } : {}) };
      let signingKey: SpKey | null = null;
      if (config.signAuthnRequests) {
        signingKey = (await deps.db.tenantWork(flow.tenantId, (t) => deps.samlSpKeys(t, flow.tenantId, row)))[0] ?? null;
        if (!signingKey) throw refused('sso_config', 'The connection signs its AuthnRequests but has no SP key; rotate one (POST …/sp-keys/rotate).');
      }
      const saml = samlFor(row, config, requestId, signingKey);
      if (config.ssoBinding === 'post') {
        const message = await saml.getAuthorizeMessageAsync('', undefined, {});
        const fields = Object.fromEntries(Object.entries(message).filter(([, v]) => typeof v === 'string' && v !== '')) as Record<string, string>;
        return { form: { action: config.ssoUrl, fields }, transaction: transactions.seal(tx) };
      }
      return { location: await saml.getAuthorizeUrlAsync('', undefined, {}), transaction: transactions.seal(tx) };
    },

    /** POST /auth/sso/saml/acs/:connectionId: the IdP's Response, through the browser. */
    async acs(connectionId: string, body: { SAMLResponse: string; RelayState?: string | undefined }, transactionCookie: string | undefined, meta: RequestMeta): Promise<{ result: string | null; returnTo: string | null; testId: string | null }> {
      const opened = transactions.open<SamlTransaction>(transactionCookie);
      const sent = opened?.connectionId === connectionId ? opened : undefined;
      // No sign-in under way in this browser: an IdP-initiated Response, accepted only where the connection opts in.
      const tx = sent ?? (await idpInitiated(connectionId, body.RelayState));
      const { fail, received } = core.failure(tx, meta);
      if (core.nowSeconds() - tx.createdAt > TRANSACTION_TTL_SECONDS) return fail('sso_expired', 'The sign-in took longer than 10 minutes; start again.');
      const row = await deps.db.tenantWork(tx.tenantId, (t) => store.findConnection(t, tx.tenantId, tx.connectionId));
      if (!row || row.type !== 'saml') return fail('sso_config', 'The connection no longer exists.');
      if (!row.enabled && !tx.test) return fail('sso_disabled', 'This SSO connection is disabled.');
      const config = row.config as unknown as SamlConfig;
      if (tx.requestId === null && !config.allowIdpInitiated) return fail('sso_expired', 'No SAML sign-in through this connection is under way in this browser, and the connection does not accept IdP-initiated sign-ins.');
      const { spEntityId, acsUrl } = spEndpoints(deps.publicUrl, row.id);

      let verified;
      try {
        const decryptionKeys = async () => (await deps.db.tenantWork(tx.tenantId, (t) => deps.samlSpKeys(t, tx.tenantId, row))).map((k) => k.privateKeyPem);
        verified = await verifySamlResponse(body.SAMLResponse, config, { spEntityId, acsUrl, requestId: tx.requestId, now: deps.now(), decryptionKeys });
      } catch (err) {
        if (err instanceof SamlRefused) return fail(err.code, err.message, { reason: err.message.slice(0, 200) });
        throw err;
      }
      // saml-profiles §4.1.4.5: a bearer assertion is used once; its ID stays spent (on every instance) until it
      // could no longer be accepted.
      const assertionSpentId = spentId('saml-assertion', row.id, verified.assertionId);
      if (!(await core.spendOnce(tx.tenantId, assertionSpentId, verified.validUntil))) return fail('sso_replay', 'This assertion was already used.', { assertionId: verified.assertionId.slice(0, 100) });

      const claims: Record<string, unknown> = { ...verified.attributes, nameId: verified.nameId, nameIdFormat: verified.nameIdFormat };
      received(claims);
      const mapping = row.claim_mapping as { email?: string };
      const attribute = verified.attributes[mapping.email ?? 'email'];
      const fromAttribute = typeof attribute === 'string' ? attribute : undefined;
      const fromNameId = verified.nameIdFormat === NAMEID_EMAIL ? verified.nameId : undefined;
      const email = config.emailFrom === 'attribute' ? fromAttribute : config.emailFrom === 'name_id' ? fromNameId : (fromAttribute ?? fromNameId);
      if (email === undefined) return fail('sso_config', `The assertion carries no email: neither the attribute "${mapping.email ?? 'email'}" nor a NameID of format emailAddress.`, { sub: verified.nameId });

      const policy = row.mfa_policy as { acceptedAcr?: string[] };
      const accepted = policy.acceptedAcr?.length ? policy.acceptedAcr : DEFAULT_MFA_AUTHN_CONTEXTS;
      const idpMfa = verified.authnContextClassRef !== null && accepted.includes(verified.authnContextClassRef);
      return core.finish(tx, row, { subject: verified.nameId, claims, email, idpMfa, amr: idpMfa ? ['mfa'] : [], evidence: { authnContextClassRef: verified.authnContextClassRef }, logout: { nameId: verified.nameId, nameIdFormat: verified.nameIdFormat, sessionIndex: verified.sessionIndex } }, meta, fail);
    },
  };
}

export type SamlSignIn = ReturnType<typeof createSamlSignIn>;
