import { defineErrors } from '../../kernel/app-error.js';

export const BootstrapErrors = defineErrors({
  'bootstrap.invalid_input': { status: 400, message: 'The bootstrap settings are not valid.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof BootstrapErrors, true> {}
}
