import { defineErrors } from '../../kernel/app-error.js';

export const AuditErrors = defineErrors({
  'audit.invalid_cursor': { status: 400, message: 'The cursor is not valid; use the nextCursor of a previous page.' },
  'audit.invalid_settings': { status: 400, message: 'The audit settings are not valid.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof AuditErrors, true> {}
}
