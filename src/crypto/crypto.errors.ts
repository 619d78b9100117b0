import { defineErrors } from '../kernel/app-error.js';

export const CryptoErrors = defineErrors({
  'keyring.decrypt_failed': {
    status: 500,
    message: 'Stored secret could not be decrypted: it was altered or moved, or the master key is wrong.',
  },
  'keyring.master_key_mismatch': {
    status: 500,
    message:
      'Data was encrypted under a different master key. Set TESSERA_MASTER_KEY to the key in use, or put the old key in TESSERA_MASTER_KEY_PREVIOUS and run `tessera keys rotate`.',
  },
  'keyring.master_key_missing': {
    status: 500,
    message:
      'TESSERA_MASTER_KEY is required with PostgreSQL. Make one with: node -e "console.log(require(\'node:crypto\').randomBytes(32).toString(\'base64\'))"',
  },
});

declare module '../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof CryptoErrors, true> {}
}
