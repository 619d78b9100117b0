import type { Config } from './config/config.schema.js';
import { type App, buildApp } from './app.js';
import { resolveMasterKey } from './crypto/master-key.js';
import { openDatabase } from './db/database.js';
import { DbErrors } from './db/db.errors.js';
import { serverAnswers, serveSnapshots } from './db/snapshot-socket.js';
import { migrate, migrationStatus } from './db/migrator.js';
import type { BootstrapResult } from './features/bootstrap/index.js';
import { AppError } from './kernel/app-error.js';
import { type MetricsServer, startMetricsServer } from './metrics/metrics-server.js';

export interface Running {
  readonly app: App;
  readonly address: string;
  /** The metrics listener's address, when TESSERA_METRICS_PORT is set. */
  readonly metricsAddress?: string;
  /** Stops accepting connections, lets in-flight requests finish (up to the configured timeout), closes the database. */
  shutdown(reason: string): Promise<void>;
}

export interface StartOptions {
  /** Where first-start messages go (the one-time password among them): the terminal, never the log. */
  readonly print?: (text: string) => void;
  readonly installSignalHandlers?: boolean;
  /** For embedding: runs after the app is built and before it listens (e.g. to mount extra routes). */
  readonly beforeListen?: (app: App) => void | Promise<void>;
}

/** Boot: resolve the master key, open and migrate the database, build the app, bootstrap once, listen. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<Running> {
  const print = options.print ?? ((text: string) => process.stdout.write(`${text}\n`));
  const master = resolveMasterKey(config);
  const embeddedDir = config.database.kind === 'pglite' && !config.dataDir.startsWith('memory://') ? config.dataDir : undefined;
  // The embedded database is one process's: a second server on the same data directory would corrupt it.
  if (embeddedDir && (await serverAnswers(embeddedDir))) throw new AppError(DbErrors['db.data_dir_in_use']);
  const db = await openDatabase(config.database);
  let app: App;
  let metrics: MetricsServer | undefined;
  let snapshots: { close(): Promise<void> } | undefined;
  try {
    if (config.autoMigrate) await migrate(db);
    else if ((await migrationStatus(db)).pending.length > 0) throw new AppError(DbErrors['db.migrations_pending']);

    app = await buildApp({ config, db, masterKeys: master.keys });
    if (master.generatedAt) {
      app.http.log.warn(
        { file: master.generatedAt },
        'No TESSERA_MASTER_KEY set: generated one into the data directory. Back it up with the data; for production set TESSERA_MASTER_KEY.',
      );
    }
    await app.services.keys.ensureSigningKey();
    const created = await app.services.bootstrap.bootstrapIfEmpty({
      tenantName: config.bootstrap.tenantName,
      accountName: config.bootstrap.accountName,
      email: config.bootstrap.adminEmail,
      password: config.bootstrap.adminPassword,
    });
    if (created) print(firstStartMessage(created, config));
    await options.beforeListen?.(app);
    if (config.metrics.port !== undefined) {
      const log = app.http.log;
      metrics = await startMetricsServer(app.services.metrics!.registry, { host: config.metrics.host, port: config.metrics.port }, (error) => log.error({ err: error }, 'metrics collection failed'));
    }
    // `tessera backup` asks this process for the embedded database's snapshot (snapshot-socket.ts).
    if (embeddedDir && db.snapshot !== undefined) {
      const log = app.http.log;
      snapshots = await serveSnapshots(embeddedDir, () => db.snapshot!(), (error) => log.error({ err: error }, 'backup snapshot failed'));
    }
    await app.http.listen({ port: config.port, host: config.host });
  } catch (error) {
    await snapshots?.close().catch(() => {});
    await metrics?.close().catch(() => {});
    await db.close().catch(() => {});
    throw error;
  }

  // Background jobs (audit webhook delivery, audit retention); stopped before the database closes.
  const auditJobs = app.services.audit.startJobs({ log: app.http.log });
  const rbacJobs = app.services.rbac.startJobs({ log: app.http.log });
  const domainJobs = app.services.domains.startJobs({ log: app.http.log });
  const certificateJobs = app.services.ssoCertificates.startJobs({ log: app.http.log });
  const metadataJobs = app.services.sso.startMetadataRefresh({ log: app.http.log });
  const openIdProviderJobs = app.services.openIdProvider.startJobs({ log: app.http.log });
  const address = app.http.server.address();
  const url =
    address && typeof address === 'object'
      ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      : config.publicUrl;
  app.http.log.info({ url, publicUrl: config.publicUrl, database: db.engine, ...(metrics ? { metrics: `${metrics.url}/metrics` } : {}) }, 'Tessera is listening');

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      app.http.log.info({ reason }, 'shutting down: finishing in-flight requests');
      app.services.health.startDraining();
      const timer = setTimeout(() => {
        app.http.log.warn('shutdown timeout reached: closing remaining connections');
        app.http.server.closeAllConnections();
      }, config.shutdownTimeoutMs);
      timer.unref();
      try {
        await app.http.close();
      } finally {
        clearTimeout(timer);
        await auditJobs.stop();
        await rbacJobs.stop();
        await domainJobs.stop();
        await certificateJobs.stop();
        await metadataJobs.stop();
        await openIdProviderJobs.stop();
        await metrics?.close();
        await snapshots?.close();
        await db.close();
      }
    })();
    return stopping;
  };

  if (options.installSignalHandlers) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        shutdown(signal).then(
          () => process.exit(0),
          (error: unknown) => {
            app.http.log.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  }
  return { app, address: url, ...(metrics ? { metricsAddress: metrics.url } : {}), shutdown };
}

function firstStartMessage(created: BootstrapResult, config: Config): string {
  const lines = [
    '',
    '  Tessera is set up: a tenant, an account and its first administrator were created.',
    '',
    `    email:     ${created.email}`,
    created.generatedPassword
      ? `    password:  ${created.generatedPassword}   (one-time: the first sign-in asks you to choose a new one)`
      : '    password:  the one in TESSERA_ADMIN_PASSWORD',
    `    tenant:    ${created.tenantId}`,
    '',
    `  Sign in:  ${config.publicUrl}/login   (the console; over the API: POST /auth/login with {"email", "password"})`,
    `  API reference: ${config.publicUrl}/api/docs`,
    '',
  ];
  if (created.generatedPassword) lines.push('  This password is shown once and is stored only as a hash.', '');
  return lines.join('\n');
}
