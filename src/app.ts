import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from './config/config.schema.js';
import { VERSION } from './config/version.js';
import { Keyring } from './crypto/keyring.js';
import type { MasterKeys } from './crypto/master-key.js';
import { createPasswordHasher } from './crypto/password.js';
import type { Database, Tx } from './db/database.js';
import { knownMigrations } from './db/migrator.js';
import { auditRoutes, createAudit } from './features/audit/index.js';
import { createBootstrapService } from './features/bootstrap/index.js';
import { createHealthService, healthRoutes } from './features/health/index.js';
import { createIdentityService, identityRoutes } from './features/identity/index.js';
import { createMfa, mfaRoutes } from './features/mfa/index.js';
import { createKeysService, dataKeyStore, keysRoutes } from './features/keys/index.js';
import { createRbacService, rbacRoutes } from './features/rbac/index.js';
import { createGuessThrottle, createSessions, sessionsRoutes } from './features/sessions/index.js';
import { allTenantIds, createOrganizationsService, createTenantsService, organizationsRoutes, securitySettings, tenantsRoutes } from './features/tenants/index.js';
import { type AuthGuards, createAuthGuards } from './http/auth.js';
import { registerRoutes } from './http/route.js';
import { createHttpServer } from './http/server.js';
import { type Clock, systemClock } from './kernel/clock.js';

export interface AppDeps {
  readonly config: Config;
  readonly db: Database;
  readonly masterKeys: MasterKeys;
  readonly clock?: Clock;
  readonly logger?: FastifyServerOptions['logger'];
}

export type ServicesDeps = Omit<AppDeps, 'logger'>;

/**
 * Composition root, first half: builds every feature with its dependencies. No HTTP: operator commands and
 * tests that need only services build these alone. No logic here.
 */
export function createServices({ config, db, masterKeys, clock = systemClock }: ServicesDeps) {
  const keyring = new Keyring<Tx>(masterKeys, dataKeyStore);
  const passwords = createPasswordHasher();
  const audit = createAudit({ db, clock, keyring, tenantIds: allTenantIds });

  const keys = createKeysService({ db, clock, master: masterKeys, signingAlg: config.signingAlg, accessTokenTtlSeconds: config.accessTokenTtlSeconds, audit });
  // Sessions are built after MFA (which needs identity); identity reaches them only when a request runs.
  const identity = createIdentityService({ clock, passwords, audit, securitySettings, revokeUserSessions: (...args) => sessions.revokeAllSessionsOfUser(...args), userChanged: (tenantId, userId) => sessions.userChanged(tenantId, userId), guesses: createGuessThrottle({ db, clock }),
    // rbac is built after identity (it needs requireTenantAdmin); identity reaches its takeover rule only when a request runs.
    takeover: { assertMayActAs: (...args) => rbac.grants.assertMayActAs(...args), refusalsRecorded: (tenantId, actor, work) => rbac.grants.refusalsRecorded(tenantId, actor, work) },
  });
  const tenants = createTenantsService({ db, clock, audit, createDataKey: (tx, tenantId) => keyring.createDataKey(tx, tenantId), requireTenantAdmin: identity.requireTenantAdmin });
  const mfa = createMfa({ clock, keyring, audit, identity });
  const rbac = createRbacService({ db, clock, audit, requireTenantAdmin: identity.requireTenantAdmin });
  const organizations = createOrganizationsService({ db, clock, audit, rolesScopedTo: rbac.rolesScopedTo });
  const bootstrap = createBootstrapService({ db, clock, tenants, identity, rbac, audit });
  const sessions = createSessions({ db, clock, keys, passwords, audit, mfa, identity, securityPolicy: securitySettings, issuer: config.publicUrl, audience: config.tokenAudience, accessTokenTtlSeconds: config.accessTokenTtlSeconds, refreshGraceSeconds: config.refreshGraceSeconds });
  const health = createHealthService({ db, latestMigration: knownMigrations().at(-1)?.version ?? 0 });

  return { keyring, passwords, audit, keys, tenants, organizations, identity, mfa, rbac, bootstrap, health, sessions };
}

export type Services = ReturnType<typeof createServices>;

/** Composition root, second half: the HTTP server with every feature's routes mounted. No logic here. */
export async function createHttpApp(s: Services, { config, db, logger }: Pick<AppDeps, 'config' | 'db' | 'logger'>): Promise<{ http: FastifyInstance; guards: AuthGuards }> {
  const guards = createAuthGuards(s.sessions.authenticator, s.rbac.permissionChecker());
  const http: FastifyInstance = await createHttpServer({
    logLevel: config.logLevel,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    publicUrl: config.publicUrl,
    version: VERSION,
    logger,
  });
  registerRoutes(http, guards, [...healthRoutes(s.health), ...keysRoutes(s.keys), ...tenantsRoutes(s.tenants), ...organizationsRoutes(s.organizations), ...auditRoutes(s.audit)]);
  await http.register(sessionsRoutes(s.sessions, guards));
  await http.register(identityRoutes({ db, identity: s.identity, guards }));
  await http.register(mfaRoutes({ db, mfa: s.mfa, guards }));
  await http.register(rbacRoutes({ db, rbac: s.rbac, guards }));
  return { http, guards };
}

/** The whole server: services, then the HTTP app over them. */
export async function buildApp(deps: AppDeps) {
  const services = createServices(deps);
  const { http, guards } = await createHttpApp(services, deps);
  return { http, guards, db: deps.db, config: deps.config, services };
}

export type App = Awaited<ReturnType<typeof buildApp>>;
