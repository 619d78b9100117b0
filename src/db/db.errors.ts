import { defineErrors } from '../kernel/app-error.js';

export const DbErrors = defineErrors({
  'db.newer_than_code': {
    status: 503,
    message: 'The database was migrated by a newer Tessera than this one; run the newer version (or restore a backup).',
  },
  'db.migration_modified': {
    status: 503,
    message: 'An applied migration differs from the one this version ships; do not edit applied migrations.',
  },
  'db.data_dir_insecure': {
    status: 503,
    message: 'The data directory may be written by other users; Tessera refuses to start on it.',
  },
  'db.migrations_pending': {
    status: 503,
    message: 'The database has migrations pending; run `tessera migrate`.',
  },
  'db.data_dir_in_use': {
    status: 503,
    message: 'Another Tessera server is running on this data directory; the embedded database is one process\'s. Stop it, or use another TESSERA_DATA_DIR.',
  },
  'backup.not_embedded': {
    status: 400,
    message: '`tessera backup` and `tessera restore` are for the embedded database; back up PostgreSQL with pg_dump (docs/runbook.md).',
  },
  'backup.nothing_to_back_up': {
    status: 400,
    message: 'The data directory holds no database to back up; check TESSERA_DATA_DIR.',
  },
  'backup.file_exists': {
    status: 409,
    message: 'The backup file exists already; choose another name or pass --force to replace it.',
  },
  'backup.file_invalid': {
    status: 400,
    message: 'This file is not a Tessera backup this version can read.',
  },
  'backup.master_key_mismatch': {
    status: 400,
    message: 'The backup was encrypted with another master key; set TESSERA_MASTER_KEY to the key in use when it was taken.',
  },
  'backup.master_key_missing': {
    status: 400,
    message: 'No master key to open the backup with: set TESSERA_MASTER_KEY, or copy the old master.key into the data directory.',
  },
  'backup.authentication_failed': {
    status: 400,
    message: 'The backup failed authentication: it was altered or damaged. Nothing was restored; use another copy.',
  },
  'backup.data_dir_not_empty': {
    status: 409,
    message: 'The data directory already holds a database; restore into an empty one, or pass --force to replace it.',
  },
  'backup.server_running': {
    status: 409,
    message: 'A Tessera server is running on this data directory; stop it before restoring.',
  },
});

declare module '../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof DbErrors, true> {}
}
