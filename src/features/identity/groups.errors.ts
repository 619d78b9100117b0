import { defineErrors } from '../../kernel/app-error.js';

export const GroupsErrors = defineErrors({
  'identity.group_name_taken': { status: 409, message: 'A group with this name already exists in the tenant.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof GroupsErrors, true> {}
}
