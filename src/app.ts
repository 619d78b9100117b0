import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from './config/config.schema.js';
import { VERSION } from './config/version.js';
import { Keyring } from './crypto/keyring.js';
import type { MasterKeys } from './crypto/master-key.js';
import { createPasswordHasher } from './crypto/password.js';
import type { Database, Tx } from './db/database.js';
import { knownMigrations } from './db/migrator.js';
import { apiKeysRoutes, createApiKeysService } from './features/api-keys/index.js';
import { applicationsRoutes, createApplicationsService } from './features/applications/index.js';
import { auditRoutes, createAudit, createAuditSettings } from './features/audit/index.js';
import { createDomainsService, createTxtLookup, domainsRoutes } from './features/domains/index.js';
import { createBootstrapService } from './features/bootstrap/index.js';
import { createHealthService, healthRoutes } from './features/health/index.js';
import { createGroupsService, createIdentityService, findLoginUser, findLoginUserById, groupsRoutes, identityRoutes, loginTenants } from './features/identity/index.js';
import { createMfa, mfaRoutes } from './features/mfa/index.js';
import { createOpenIdProvider, openIdProviderRoutes } from './features/openid-provider/index.js';
import { createKeysService, dataKeyStore, keysRoutes } from './features/keys/index.js';
import { createCertificateWatch, createSsoSignIn, createSsoPolicy, createSsoService, ssoPolicyRoutes, ssoRoutes, ssoSignInRoutes } from './features/sso/index.js';
import { createDirectoriesService, createRoleMappingsService, createScimGroupsService, createScimUsersService, scimDirectoryRoutes, scimFrame, scimProtocolRoutes } from './features/scim/index.js';
import { createRbacService, enterableAccounts, rbacRoutes } from './features/rbac/index.js';
import { createSetupFlow, createSetupLinks, setupLinksRoutes } from './features/setup-links/index.js';
import { createGuessThrottle, createSessions, sessionsRoutes } from './features/sessions/index.js';
import { allTenantIds, createOrganizationsService, createTenantsService, organizationsRoutes, securitySettings, tenantsRoutes } from './features/tenants/index.js';
import { type AuthGuards, createAuthGuards } from './http/auth.js';
import { registerProtocolRoutes, registerRoutes } from './http/route.js';
import { createHttpServer } from './http/server.js';
import { installWebConsole } from './http/web-console.js';
import { type Clock, systemClock } from './kernel/clock.js';
import { createMetrics } from './metrics/metrics.js';
import { noTelemetry } from './kernel/telemetry.js';

export interface AppDeps {
  readonly config: Config;
  readonly db: Database;
  readonly masterKeys: MasterKeys;
  readonly clock?: Clock;
  readonly logger?: FastifyServerOptions['logger'];
  /** The built console (`dist/console` unless given): tests serve a build of their own. */
  readonly consoleDir?: string;
}

export type ServicesDeps = Omit<AppDeps, 'logger' | 'consoleDir'>;

/**
 * Composition root, first half: builds every feature with its dependencies. No HTTP: operator commands and
 * tests that need only services build these alone. No logic here.
 */
export function createServices({ config, db, masterKeys, clock = systemClock }: ServicesDeps) {
  const keyring = new Keyring<Tx>(masterKeys, dataKeyStore);
  const passwords = createPasswordHasher();
  // Metrics only where they are served (TESSERA_METRICS_PORT): otherwise no request, login or append pays for
  // counting what nobody reads. One registry per app (tests run many apps in one process).
  const metrics = config.metrics.port !== undefined ? createMetrics({ processMetrics: true }) : undefined;
  const telemetry = metrics?.telemetry ?? noTelemetry;
  const audit = createAudit({ db, clock, keyring, tenantIds: allTenantIds, telemetry, network: config.webhook });

  const keys = createKeysService({ db, clock, master: masterKeys, signingAlg: config.signingAlg, accessTokenTtlSeconds: config.accessTokenTtlSeconds, audit });
  const identity = createIdentityService({ db, clock, passwords, audit, securitySettings, guesses: createGuessThrottle({ db, clock }),
    // rbac is built after identity (it needs requireTenantAdmin); identity reaches its takeover rule only when a request runs.
    takeover: { assertMayActAs: (...args) => rbac.grants.assertMayActAs(...args), refusalsRecorded: (tenantId, actor, work) => rbac.grants.refusalsRecorded(tenantId, actor, work), withAccountAdminsKept: (...args) => rbac.groupRules.withAccountAdminsKept(...args) },
  });
  const auditSettings = createAuditSettings({ db, audit, requireTenantAdmin: identity.requireTenantAdmin });
  const tenants = createTenantsService({ db, clock, audit, createDataKey: (tx, tenantId) => keyring.createDataKey(tx, tenantId), requireTenantAdmin: identity.requireTenantAdmin });
  const mfa = createMfa({ db, clock, keyring, audit, identity });
  const rbac = createRbacService({ db, clock, audit });
  const groups = createGroupsService({ db, clock, audit, access: rbac.groupRules });
  const apiKeys = createApiKeysService({ db, clock, audit, rbac: { checkKeys: (...args) => rbac.catalog.checkKeys(...args), grants: rbac.grants, has: (...args) => rbac.access.has(...args) } });
  const applications = createApplicationsService({ db, clock, audit });
  const organizations = createOrganizationsService({ db, clock, audit, rolesScopedTo: rbac.rolesScopedTo });
  const bootstrap = createBootstrapService({ db, clock, tenants, identity, rbac, audit });
  const domains = createDomainsService({ db, clock, audit, requireTenantAdmin: identity.requireTenantAdmin, txt: createTxtLookup({ servers: config.domains.dnsServers, timeoutMs: config.domains.dnsTimeoutMs }), extraPublicMailboxDomains: config.domains.publicMailboxDomains,
    // sso is built after domains (it reads domains); domains reaches sso's readiness only when a request runs.
    ssoReadiness: (...args) => ssoPolicy.readiness(...args),
  });
  const sessions = createSessions({ db, clock, keys, passwords, audit, mfa, identity, users: { findLoginUser, findLoginUserById, loginTenants }, enterableAccounts, securityPolicy: securitySettings, issuer: config.publicUrl, audience: config.tokenAudience, accessTokenTtlSeconds: config.accessTokenTtlSeconds, refreshGraceSeconds: config.refreshGraceSeconds, tenantForEmail: (email) => domains.tenantForEmail(email),
    ssoPolicy: { passwordLoginPolicy: (...args) => ssoPolicy.passwordLoginPolicy(...args), isBreakGlass: (...args) => ssoPolicy.isBreakGlass(...args) },
    // sso is built after sessions (it signs users in through them); sessions reaches SAML SLO only when a logout runs.
    sourceLogout: (...args) => ssoSignIn.samlLogoutUrl(...args),
    telemetry,
  });
  // Sessions act on identity's user events in the writer's transaction (end sessions, forget cached state).
  identity.events.subscribe((tx, event) => sessions.onUserEvent(tx, event));
  const ssoPolicy = createSsoPolicy({
    db, clock, audit, publicUrl: config.publicUrl, requireTenantAdmin: identity.requireTenantAdmin,
    tenantForEmail: (email) => domains.tenantForEmail(email),
    listEvents: (tenantId, query) => audit.listEvents(tenantId, query),
  });
  const sso = createSsoService({ db, clock, keyring, audit, requireTenantAdmin: identity.requireTenantAdmin, network: config.sso, grants: rbac.grants, publicUrl: config.publicUrl, removeManagedAssignments: (tx, tenantId, managedBy) => rbac.managed.removeAll(tx, tenantId, managedBy), tenantIds: allTenantIds });
  const ssoSignIn = createSsoSignIn({
    db, clock, audit, masterKeys, publicUrl: config.publicUrl, network: config.sso,
    allowedReturnOrigins: (tenantId) => ssoPolicy.allowedReturnOrigins(tenantId),
    clientSecret: (tx, tenantId, row) => sso.clientSecret(tx, tenantId, row),
    clientKey: (tx, tenantId, row) => sso.clientKey(tx, tenantId, row),
    samlSpKeys: (tx, tenantId, row) => sso.samlSpKeys(tx, tenantId, row),
    revokeSessionsFromSource: (tx, tenantId, sourceIds, reason) => sessions.revokeSessionsFromSource(tx, tenantId, sourceIds, reason),
    createUser: (tx, tenantId, input) => identity.createUser(tx, tenantId, input),
    findUserByEmail: (tx, tenantId, email) => identity.findUserByEmail(tx, tenantId, email),
    syncManagedRoles: (tx, tenantId, input) => rbac.managed.sync(tx, tenantId, input),
    requireTenantAdmin: identity.requireTenantAdmin,
    loginWithIdentitySource: (tenantId, resolve, meta) => sessions.loginWithIdentitySource(tenantId, resolve, meta),
    spendOnce: (tenantId, id, expiresAt) => sessions.spendOnce(tenantId, id, expiresAt),
    telemetry,
  });
  const scimBaseUrl = (directoryId: string) => `${config.publicUrl.replace(/\/$/, '')}/scim/v2/${directoryId}`;
  const scimRoleMappings = createRoleMappingsService({ db, clock, audit, groups: groups.directoryGroups, grants: rbac.grants, requireTenantAdmin: identity.requireTenantAdmin,
    setManagedGroupRoles: (...args) => rbac.setManagedGroupRoles(...args),
    removeManagedAssignments: (tx, tenantId, managedBy) => rbac.managed.removeAll(tx, tenantId, managedBy),
  });
  const scimGroups = createScimGroupsService({ work: (caller, fn) => scimDirectories.work(caller, fn), clock, audit, groups: groups.directoryGroups, baseUrlOf: scimBaseUrl, mappingsChanged: (...args) => scimRoleMappings.apply(...args) });
  const scimUsers = createScimUsersService({ work: (caller, fn) => scimDirectories.work(caller, fn), clock, audit, baseUrlOf: scimBaseUrl, membership: scimRoleMappings,
    identity: { createUser: (...args) => identity.createUser(...args), findUserByEmail: (...args) => identity.findUserByEmail(...args), getUser: (...args) => identity.getUser(...args), applyDirectoryChange: (...args) => identity.applyDirectoryChange(...args), assertEmailDomainAllowed: (...args) => identity.assertEmailDomainAllowed(...args) },
  });
  // The SCIM view of a user follows a status change made outside SCIM, in the writer's transaction.
  identity.events.subscribe((tx, event) => scimUsers.onUserEvent(tx, event));
  const scimDirectories = createDirectoriesService({ db, clock, audit, publicUrl: config.publicUrl, requireTenantAdmin: identity.requireTenantAdmin,
    ssoConnectionExists: (tx, tenantId, id) => sso.exists(tx, tenantId, id),
    deprovisionDirectory: async (tx, tenantId, directoryId, actor) => {
      const deactivated = await scimUsers.deprovisionDirectory(tx, tenantId, directoryId, actor);
      await scimRoleMappings.directoryDeleted(tx, tenantId, directoryId);
      return deactivated;
    },
  });
  const ssoCertificates = createCertificateWatch({ db, clock, audit, tenantIds: allTenantIds, spendOnceIn: (tx, tenantId, id, expiresAt) => sessions.spendOnceIn(tx, tenantId, id, expiresAt) });
  const setupLinks = createSetupLinks({ db, clock, audit, publicUrl: config.publicUrl, requireTenantAdmin: identity.requireTenantAdmin });
  const setupFlow = createSetupFlow({ links: setupLinks, clock, audit, publicUrl: config.publicUrl, tenantName: async (tenantId) => (await tenants.getTenant(tenantId)).name, domains, sso, tests: ssoSignIn, directories: scimDirectories });
  const openIdProvider = createOpenIdProvider({
    db, clock, masterKeys, audit, issuer: config.publicUrl.replace(/\/$/, ''), trustProxy: config.trustProxy !== false,
    keys, applications, sessions,
    permissionsIn: async (tenantId, userId, accountId) => (await rbac.access.effectiveAccess(tenantId, userId)).accounts.find((a) => a.accountId === accountId)?.permissions.map((p) => p.key) ?? [],
    emailVerified: async (tenantId, email) => (await domains.tenantForEmail(email)) === tenantId,
    applicationNetwork: config.applications,
  });
  // Back-channel logout: the deliveries for ended sessions are recorded in the transaction that ended them.
  sessions.events.subscribe((tx, event) => openIdProvider.backchannel.sessionsEnded(tx, event.tenantId, event.sessions));
  const health = createHealthService({ db, latestMigration: knownMigrations().at(-1)?.version ?? 0 });
  metrics?.observe({
    webhookBacklog: () => audit.webhookBacklog(),
    passwordHashLoad: () => passwords.load(),
    ...(db.poolStats ? { poolStats: () => db.poolStats!() } : {}),
  });

  return { metrics, keyring, passwords, audit, auditSettings, keys, tenants, organizations, identity, groups, mfa, rbac, apiKeys, applications, bootstrap, health, sessions, domains, sso, ssoPolicy, ssoSignIn, ssoCertificates, scimDirectories, scimUsers, scimGroups, scimRoleMappings, setupLinks, setupFlow, openIdProvider };
}

export type Services = ReturnType<typeof createServices>;

/** Composition root, second half: the HTTP server with every feature's routes mounted. No logic here. */
export async function createHttpApp(s: Services, { config, logger, consoleDir }: Pick<AppDeps, 'config' | 'logger' | 'consoleDir'>): Promise<{ http: FastifyInstance; guards: AuthGuards }> {
  const guards = createAuthGuards(s.sessions.authenticator, s.rbac.permissionChecker(), s.apiKeys, s.scimDirectories);
  const http: FastifyInstance = await createHttpServer({
    logLevel: config.logLevel,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    publicUrl: config.publicUrl,
    version: VERSION,
    logger,
    ...(s.metrics ? { onRateLimited: s.metrics.rateLimited, instrument: (app: FastifyInstance) => s.metrics!.instrument(app) } : {}),
  });
  registerRoutes(http, guards, [
    ...healthRoutes(s.health),
    ...keysRoutes(s.keys),
    ...sessionsRoutes(s.sessions),
    ...mfaRoutes(s.mfa),
    ...identityRoutes(s.identity),
    ...groupsRoutes(s.groups),
    ...tenantsRoutes(s.tenants),
    ...organizationsRoutes(s.organizations),
    ...rbacRoutes(s.rbac),
    ...apiKeysRoutes(s.apiKeys),
    ...applicationsRoutes(s.applications),
    ...domainsRoutes(s.domains),
    ...auditRoutes(s.audit, s.auditSettings),
    ...ssoRoutes(s.sso, s.ssoSignIn),
    ...ssoPolicyRoutes(s.ssoPolicy, { perMinutePerIp: config.sso.rateLimitPerMinute }),
    ...ssoSignInRoutes(s.ssoSignIn, { secureCookies: s.sessions.secureCookies, publicUrl: config.publicUrl, perMinutePerIp: config.sso.rateLimitPerMinute }),
    ...scimDirectoryRoutes(s.scimDirectories, s.scimRoleMappings),
    ...setupLinksRoutes(s.setupLinks, s.setupFlow, { secureCookies: s.sessions.secureCookies, perMinutePerIp: config.sso.rateLimitPerMinute }),
  ]);
  await openIdProviderRoutes(http, guards, s.openIdProvider);
  await registerProtocolRoutes(http, guards, scimProtocolRoutes(s.scimDirectories, s.scimUsers, s.scimGroups), scimFrame);
  installWebConsole(http, consoleDir === undefined ? {} : { dir: consoleDir });
  return { http, guards };
}

/** The whole server: services, then the HTTP app over them. */
export async function buildApp(deps: AppDeps) {
  const services = createServices(deps);
  const { http, guards } = await createHttpApp(services, deps);
  return { http, guards, db: deps.db, config: deps.config, services };
}

export type App = Awaited<ReturnType<typeof buildApp>>;
