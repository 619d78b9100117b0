import { AppError } from '../../kernel/app-error.js';
import { noTelemetry, type Telemetry } from '../../kernel/telemetry.js';
import type { RequestMeta } from '../sessions/index.js';
import { SsoErrors } from './sso.errors.js';
import * as store from './sso.store.js';
import { createOidcSignIn, type OidcSignInDeps } from './oidc-signin.js';
import { createSamlSignIn, type SamlSignInDeps, type SamlStart } from './saml-signin.js';
import { spMetadataXml, type SamlConfig } from './saml-config.js';
import { spKeysOf } from './saml-sp-keys.js';
import { createSignInCore, refused, type SignInCoreDeps, SignInRefused } from './signin-core.js';

export type SsoSignInDeps = SignInCoreDeps & OidcSignInDeps & Pick<SamlSignInDeps, 'samlSpKeys' | 'revokeSessionsFromSource'> & {
  /** Where sign-ins are counted by protocol and outcome (the operator's metrics). */
  readonly telemetry?: Telemetry;
};

type Finished = { result: string | null; returnTo: string | null; testId: string | null };

/** A sign-in's end, counted: a "Test connection" dry run is not a sign-in and is not counted. */
async function counted(telemetry: Telemetry, protocol: 'oidc' | 'saml', attempt: Promise<Finished>): Promise<Finished> {
  try {
    const finished = await attempt;
    if (finished.testId === null) telemetry.login(protocol, 'success');
    return finished;
  } catch (error) {
    if (!(error instanceof SignInRefused && error.testId !== null)) telemetry.login(protocol, 'failure');
    throw error;
  }
}

/** What /auth/sso/start answers: the IdP to go to and the cookie to set (OIDC's, or SAML's for the ACS). */
export type Started = ({ readonly protocol: 'oidc'; readonly location: string; readonly transaction: string }) | ({ readonly protocol: 'saml' } & SamlStart);

/**
 * Signing in through a connection, whatever its protocol: one start (dispatched on the connection's type), the
 * OIDC callback, the SAML ACS, "Test connection", and the one-time result, over the shared core (signin-core.ts).
 */
export function createSsoSignIn(deps: SsoSignInDeps) {
  const core = createSignInCore(deps);
  const telemetry = deps.telemetry ?? noTelemetry;
  const oidc = createOidcSignIn(deps, core);
  const saml = createSamlSignIn({ db: deps.db, masterKeys: deps.masterKeys, publicUrl: deps.publicUrl, now: () => deps.clock.now(), samlSpKeys: deps.samlSpKeys, audit: deps.audit, revokeSessionsFromSource: deps.revokeSessionsFromSource }, core);
  return {
    redirectUri: oidc.redirectUri,
    startTest: (...args: Parameters<typeof core.startTest>) => core.startTest(...args),
    getTest: (...args: Parameters<typeof core.getTest>) => core.getTest(...args),
    takeResult: (...args: Parameters<typeof core.takeResult>) => core.takeResult(...args),
    callback: (...args: Parameters<typeof oidc.callback>) => counted(telemetry, 'oidc', oidc.callback(...args)),
    acs: (...args: Parameters<typeof saml.acs>) => counted(telemetry, 'saml', saml.acs(...args)),
    samlLogout: (...args: Parameters<typeof saml.idpLogout>) => saml.idpLogout(...args),
    samlLogoutUrl: (...args: Parameters<typeof saml.spLogoutUrl>) => saml.spLogoutUrl(...args),

    /** The SP metadata, published for SAML connections only (unknown or OIDC: not found), with the SP certificates. */
    async samlMetadata(connectionId: string): Promise<string> {
      const tenantId = await deps.db.globalWork((tx) => store.connectionTenant(tx, connectionId));
      const row = tenantId ? await deps.db.tenantWork(tenantId, (tx) => store.findConnection(tx, tenantId, connectionId)) : undefined;
      if (row?.type !== 'saml') throw new AppError(SsoErrors['sso.connection_not_found']);
      const config = row.config as unknown as SamlConfig;
      return spMetadataXml(deps.publicUrl, row.id, { certificates: spKeysOf(row).map((k) => k.certificatePem), signAuthnRequests: config.signAuthnRequests ?? false });
    },

    /** GET /auth/sso/start: the connection's protocol decides where the browser goes. */
    async start(connectionId: string, returnToInput: string | undefined, meta: RequestMeta, testInput?: string): Promise<Started> {
      const { row, flow } = await core.begin(connectionId, returnToInput, meta, testInput);
      if (row.type === 'oidc') return { protocol: 'oidc', ...(await oidc.start(row, flow)) };
      if (row.type === 'saml') return { protocol: 'saml', ...(await saml.start(row, flow)) };
      throw refused('sso_config', 'The connection\'s protocol is not supported.');
    },
  };
}

export type SsoSignIn = ReturnType<typeof createSsoSignIn>;
