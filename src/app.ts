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
import { createOrganizationsService, createTenantsService, organizationsRoutes, securitySettings, tenantsRoutes } from './features/tenants/index.js';
import { createAuthGuards } from './http/auth.js';
import { createHttpServer } from './http/server.js';
import { type Clock, systemClock } from './kernel/clock.js';

export interface AppDeps {
  readonly config: Config;
  readonly db: Database;
  readonly masterKeys: MasterKeys;
  readonly clock?: Clock;
  readonly logger?: FastifyServerOptions['logger'];
}

/** Composition root: builds every feature with its dependencies and mounts its routes. No logic here. */
export async function buildApp({ config, db, masterKeys, clock = systemClock, logger }: AppDeps) {
  const keyring = new Keyring<Tx>(masterKeys, dataKeyStore);
  const passwords = createPasswordHasher();
  const audit = createAudit({ db, clock, keyring });

  const keys = createKeysService({ db, clock, master: masterKeys, signingAlg: config.signingAlg, accessTokenTtlSeconds: config.accessTokenTtlSeconds, audit });
  // Sessions are built after MFA (which needs identity); identity reaches them only when a request runs.
  const identity = createIdentityService({ clock, passwords, audit, securitySettings, revokeUserSessions: (...args) => sessions.revokeAllSessionsOfUser(...args), userChanged: (tenantId, userId) => sessions.userChanged(tenantId, userId), guesses: createGuessThrottle({ db, clock }),
    // rbac is built after identity (it needs requireTenantAdmin); identity reaches its takeover rule only when a request runs.
    takeover: { assertMayActAs: (...args) => rbac.grants.assertMayActAs(...args), refusalsRecorded: (tenantId, actor, work) => rbac.grants.refusalsRecorded(tenantId, actor, work) },
  });
  const tenants = createTenantsService({ clock, audit, createDataKey: (tx, tenantId) => keyring.createDataKey(tx, tenantId), requireTenantAdmin: identity.requireTenantAdmin });
  const mfa = createMfa({ clock, keyring, audit, identity });
  const rbac = createRbacService({ db, clock, audit, requireTenantAdmin: identity.requireTenantAdmin });
  const organizations = createOrganizationsService({ clock, audit, rolesScopedTo: rbac.rolesScopedTo });
  const bootstrap = createBootstrapService({ db, clock, tenants, identity, rbac, audit });
  const sessions = createSessions({ db, clock, keys, passwords, audit, mfa, identity, securityPolicy: securitySettings, issuer: config.publicUrl, audience: config.tokenAudience, accessTokenTtlSeconds: config.accessTokenTtlSeconds, refreshGraceSeconds: config.refreshGraceSeconds });
  const guards = createAuthGuards(sessions.authenticator, rbac.permissionChecker());
  const health = createHealthService({ db, latestMigration: knownMigrations().at(-1)?.version ?? 0 });

  const http: FastifyInstance = await createHttpServer({
    logLevel: config.logLevel,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    publicUrl: config.publicUrl,
    version: VERSION,
    logger,
  });
  await http.register(healthRoutes(health));
  await http.register(keysRoutes(keys));
  await http.register(sessionsRoutes(sessions, guards));
  await http.register(auditRoutes(audit, guards));
  await http.register(identityRoutes({ db, identity, guards }));
  await http.register(mfaRoutes({ db, mfa, guards }));
  await http.register(tenantsRoutes({ db, tenants, guards }));
  await http.register(organizationsRoutes({ db, organizations, guards }));
  await http.register(rbacRoutes({ db, rbac, guards }));

  return { http, db, config, services: { keyring, passwords, audit, keys, tenants, organizations, identity, mfa, rbac, bootstrap, health, sessions, guards } };
}

export type App = Awaited<ReturnType<typeof buildApp>>;
