import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { Config } from '../config/config.schema.js';
import { VERSION } from '../config/version.js';
import { decryptBackup, encryptBackup } from '../crypto/backup-file.js';
import { createMasterKeys, type MasterKey, resolveMasterKey } from '../crypto/master-key.js';
import { secureDataDir, tightenDataDir } from '../db/data-dir.js';
import { openDatabase, PGLITE_OPTIONS } from '../db/database.js';
import { DbErrors } from '../db/db.errors.js';
import { requestSnapshot, serverAnswers } from '../db/snapshot-socket.js';
import { AppError } from '../kernel/app-error.js';
import { cliConfig, runCommand } from './context.js';

/** A progress bar on a terminal, silence otherwise (scripts, CI logs). */
function progressBar(label: string): { update(done: number, total: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} bytes`, stream: process.stderr }, Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function embeddedOnly(config: Config): void {
  if (config.database.kind !== 'pglite' || config.dataDir.startsWith('memory://')) throw new AppError(DbErrors['backup.not_embedded']);
}

const pgdataOf = (config: Config) => path.join(config.dataDir, 'pgdata');

/**
 * The snapshot: from the server running on the data directory when there is one (it holds the database; a second
 * process must not open it), else from the data directory opened here.
 */
async function takeSnapshot(config: Config): Promise<Buffer> {
  const bar = progressBar('snapshot ');
  try {
    const fromServer = await requestSnapshot(config.dataDir, (done, total) => bar.update(done, total));
    if (fromServer) return fromServer;
  } finally {
    bar.stop();
  }
  const pgdata = pgdataOf(config);
  if (!existsSync(pgdata) || readdirSync(pgdata).length === 0) throw new AppError(DbErrors['backup.nothing_to_back_up'], { message: `No database in ${config.dataDir}; check TESSERA_DATA_DIR.` });
  const db = await openDatabase(config.database);
  try {
    return await db.snapshot!();
  } finally {
    await db.close();
  }
}

/**
 * The master keys a restore may open a backup with, without ever generating one: TESSERA_MASTER_KEY (and
 * TESSERA_MASTER_KEY_PREVIOUS), else the `master.key` kept in the data directory.
 */
function restoreKeys(config: Config): MasterKey[] {
  if (config.masterKey) {
    const keys = createMasterKeys(config.masterKey, config.previousMasterKey);
    return [keys.current, ...(keys.previous ? [keys.previous] : [])];
  }
  const file = path.join(config.dataDir, 'master.key');
  if (!existsSync(file)) throw new AppError(DbErrors['backup.master_key_missing']);
  return [createMasterKeys(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).current];
}

export async function backupTo(file: string, options: { force?: boolean } = {}): Promise<{ bytes: number; masterKeyId: string }> {
  const config = cliConfig();
  embeddedOnly(config);
  const target = path.resolve(file);
  if (existsSync(target) && !options.force) throw new AppError(DbErrors['backup.file_exists'], { message: `${target} exists already; choose another name or pass --force to replace it.` });
  const master = resolveMasterKey(config).keys.current;
  const snapshot = await takeSnapshot(config);
  const bar = progressBar('encrypt  ');
  const sealed = encryptBackup(master, snapshot, { tesseraVersion: VERSION, createdAt: new Date() }, (done, total) => bar.update(done, total));
  bar.stop();
  // Written beside the target, then renamed: a crash never leaves a half-written file under the backup's name.
  const partial = `${target}.partial`;
  writeFileSync(partial, sealed, { mode: 0o600 });
  renameSync(partial, target);
  return { bytes: sealed.length, masterKeyId: master.id };
}

export async function restoreFrom(file: string, options: { force?: boolean } = {}): Promise<{ createdAt: string; tesseraVersion: string }> {
  const config = cliConfig();
  embeddedOnly(config);
  if (await serverAnswers(config.dataDir)) throw new AppError(DbErrors['backup.server_running']);
  const pgdata = pgdataOf(config);
  const occupied = existsSync(pgdata) && readdirSync(pgdata).length > 0;
  if (occupied && !options.force) throw new AppError(DbErrors['backup.data_dir_not_empty'], { message: `${config.dataDir} already holds a database; restore into an empty data directory, or pass --force to replace it.` });
  // Everything is authenticated before anything on disk changes.
  const bar = progressBar('decrypt  ');
  let opened: ReturnType<typeof decryptBackup>;
  try {
    opened = decryptBackup(restoreKeys(config), readFileSync(path.resolve(file)), (done, total) => bar.update(done, total));
  } finally {
    bar.stop();
  }
  secureDataDir(config.dataDir);
  // The database being replaced is kept aside until the restored one has opened.
  const aside = `${pgdata}.replaced-${Date.now()}`;
  if (occupied) renameSync(pgdata, aside);
  else rmSync(pgdata, { recursive: true, force: true });
  try {
    const pgl = await PGlite.create(pgdata, { ...PGLITE_OPTIONS, loadDataDir: new Blob([new Uint8Array(opened.snapshot)]) });
    await pgl.query('select 1');
    await pgl.close();
  } catch (error) {
    rmSync(pgdata, { recursive: true, force: true });
    if (occupied) renameSync(aside, pgdata);
    throw error;
  }
  if (occupied) rmSync(aside, { recursive: true, force: true });
  tightenDataDir(config.dataDir);
  return { createdAt: opened.header.createdAt, tesseraVersion: opened.header.tesseraVersion };
}

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .argument('<file>', 'where to write the encrypted backup')
    .option('--force', 'replace the file if it exists')
    .description('back up the embedded database, consistently, while the server may be running; encrypted with the master key (PostgreSQL: use pg_dump, docs/runbook.md)')
    .action((file: string, options: { force?: boolean }) =>
      runCommand(async () => {
        const done = await backupTo(file, options);
        process.stdout.write(`backup written to ${path.resolve(file)} (${done.bytes} bytes, encrypted with master key ${done.masterKeyId}). Keep the master key: the backup cannot be opened without it.\n`);
      }),
    );
  program
    .command('restore')
    .argument('<file>', 'a backup written by `tessera backup`')
    .option('--force', 'replace the database in the data directory')
    .description('restore the embedded database from a backup into an empty data directory (the server must be stopped)')
    .action((file: string, options: { force?: boolean }) =>
      runCommand(async () => {
        const done = await restoreFrom(file, options);
        process.stdout.write(`restored the backup taken ${done.createdAt} by Tessera ${done.tesseraVersion}. Check it with \`tessera audit verify\`, then start the server.\n`);
      }),
    );
}
