import { defineErrors } from '../../kernel/app-error.js';

export const BootstrapErrors = defineErrors({
  'bootstrap.invalid_input': { status: 400, message: 'The bootstrap settings are not valid.' },
});
