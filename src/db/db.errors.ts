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
});

declare module '../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof DbErrors, true> {}
}
