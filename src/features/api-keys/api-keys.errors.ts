import { defineErrors } from '../../kernel/app-error.js';

export const ApiKeysErrors = defineErrors({
  'api_keys.invalid': { status: 401, message: 'The API key is not valid or was revoked.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof ApiKeysErrors, true> {}
}
