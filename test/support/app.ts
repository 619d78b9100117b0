import { randomBytes } from 'node:crypto';
import type { FastifyServerOptions } from 'fastify';
import type { Config } from '../../src/config/config.schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { type App, buildApp, createHttpApp, createServices, type Services } from '../../src/app.js';
import { createMasterKeys, type MasterKeys } from '../../src/crypto/master-key.js';
import { ARGON2_OPTIONS, createPasswordHasher, type PasswordHasher } from '../../src/crypto/password.js';
import type { Engine } from '../../src/db/database.js';
import { FixedClock } from '../../src/kernel/clock.js';
import { createTestDatabase, type TestDatabase } from './databases.js';

function testHasher(cost: 'test' | 'owasp' = 'test', wrap?: (hasher: PasswordHasher) => PasswordHasher): { passwordHasher?: PasswordHasher } {
  if (cost === 'owasp') return {};
  const hasher = createPasswordHasher(undefined, TEST_ARGON2_COST);
  return { passwordHasher: wrap ? wrap(hasher) : hasher };
}

export interface TestApp {
  readonly app: App;
  readonly database: TestDatabase;
  readonly clock: FixedClock;
  readonly masterKeys: MasterKeys;
  readonly config: Config;
  /** Base URL of the server listening on a random loopback port. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The argon2id cost of the passwords the test servers hash: the smallest memory and time argon2id allows, instead of
 * the OWASP parameters (19 MiB, 2 passes) the server always uses. Every bootstrap, password change and login in the
 * suites still hashes and verifies with argon2id through the server's own hasher (its concurrency gate included);
 * only the work per hash, which no test observes, is smaller. A suite that starts its app with
 * `passwordCost: 'owasp'` gets the server's own hasher (src/features/bootstrap/bootstrap.test.ts asserts its
 * parameters), as do the suites that run the real `tessera` command.
 */
export const TEST_ARGON2_COST = { ...ARGON2_OPTIONS, memoryCost: 8, timeCost: 1 } as const;

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'silent', TESSERA_MASTER_KEY: randomBytes(32).toString('base64'), ...env });
}

/**
 * The real app on a fresh database of `engine`, listening on 127.0.0.1:<random>, with a fixed clock.
 * Routes a test adds through `beforeListen` are mounted before the server starts.
 */
export async function startTestApp(
  engine: Engine,
  options: { env?: Record<string, string>; clock?: FixedClock; beforeListen?: (app: App) => void | Promise<void>; logger?: FastifyServerOptions['logger']; port?: number; consoleDir?: string; passwordCost?: 'test' | 'owasp';
    /** Wraps the test hasher, e.g. to hold a verification until the test lets it go (never with `owasp`). */
    wrapHasher?: (hasher: PasswordHasher) => PasswordHasher } = {},
): Promise<TestApp> {
  const config = testConfig(options.env);
  const clock = options.clock ?? new FixedClock(new Date());
  const database = await createTestDatabase(engine);
  const masterKeys = createMasterKeys(config.masterKey!);
  let app: App | undefined;
  try {
    app = await buildApp({ config, db: database.db, masterKeys, clock, logger: options.logger ?? false, ...(options.consoleDir ? { consoleDir: options.consoleDir } : {}), ...testHasher(options.passwordCost, options.wrapHasher) });
    await app.services.keys.ensureSigningKey();
    await options.beforeListen?.(app);
    await app.http.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  } catch (error) {
    // The suite never gets the handle whose close() would drop the database.
    await app?.http.close();
    await database.drop();
    throw error;
  }
  const address = app.http.server.address();
  const url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
  return {
    app,
    database,
    clock,
    masterKeys,
    config,
    url,
    async close() {
      await app.http.close();
      await database.drop();
    },
  };
}

export interface TestServices {
  readonly services: Services;
  readonly database: TestDatabase;
  readonly clock: FixedClock;
  readonly masterKeys: MasterKeys;
  readonly config: Config;
  close(): Promise<void>;
}

/**
 * Every feature's services on a fresh database of `engine`, with a fixed clock and no HTTP server (DESIGN §6:
 * `createServices` apart from `createHttpApp`): for suites that call use cases directly.
 */
export async function startTestServices(engine: Engine, options: { env?: Record<string, string>; clock?: FixedClock; passwordCost?: 'test' | 'owasp' } = {}): Promise<TestServices> {
  const config = testConfig(options.env);
  const clock = options.clock ?? new FixedClock(new Date());
  const database = await createTestDatabase(engine);
  const masterKeys = createMasterKeys(config.masterKey!);
  try {
    const services = createServices({ config, db: database.db, masterKeys, clock, ...testHasher(options.passwordCost) });
    await services.keys.ensureSigningKey();
    return { services, database, clock, masterKeys, config, close: () => database.drop() };
  } catch (error) {
    await database.drop();
    throw error;
  }
}

/** A second server instance on the test app's database (its own services and caches), listening on another port. */
export async function startSecondInstance(t: TestApp): Promise<{ app: App; url: string; close(): Promise<void> }> {
  const deps = { config: t.config, db: t.database.db, masterKeys: t.masterKeys, clock: t.clock, logger: false as const };
  const services = createServices(deps);
  const { http, guards } = await createHttpApp(services, deps);
  await http.listen({ port: 0, host: '127.0.0.1' });
  const address = http.server.address();
  const url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
  return { app: { http, guards, db: deps.db, config: deps.config, services }, url, close: () => http.close() };
}
