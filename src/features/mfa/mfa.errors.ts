import { defineErrors } from '../../kernel/app-error.js';

export const MfaErrors = defineErrors({
  'mfa.already_enabled': { status: 409, message: 'Two-step verification is already enabled; disable it before setting it up again.' },
  'mfa.setup_not_started': { status: 409, message: 'Start two-step verification setup first.' },
  'mfa.not_enabled': { status: 409, message: 'Two-step verification is not enabled.' },
  'mfa.invalid_code': { status: 400, message: 'The verification code is not valid.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof MfaErrors, true> {}
}
