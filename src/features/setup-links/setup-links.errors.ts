import { defineErrors } from '../../kernel/app-error.js';

export const SetupLinkErrors = defineErrors({
  'setup_link.invalid': { status: 401, message: 'This setup link is not valid. Check that you copied the whole link, or ask your vendor for a new one.' },
  'setup_link.expired': { status: 410, message: 'This setup link has expired. Ask your vendor for a new one.' },
  'setup_link.revoked': { status: 410, message: 'This setup link was revoked by your vendor. Ask them for a new one.' },
  'setup_link.completed': { status: 410, message: 'This setup is finished; the link no longer works. Ask your vendor for a new link to change anything.' },
  'setup_link.creator_inactive': { status: 403, message: 'The administrator who created this setup link can no longer administer the tenant, so the link no longer works. Ask your vendor for a new one.' },
  'setup_link.in_use': { status: 409, message: 'Someone else is using this setup link in another browser. Only one person at a time can use it; try again once they have been idle for 15 minutes.' },
  'setup_link.intent_forbidden': { status: 403, message: 'This setup link does not allow this step (it was created for another part of the setup).' },
  'setup_link.step_done': { status: 409, message: 'This step is already done through this link; it cannot be done twice.' },
  'setup_link.step_missing': { status: 409, message: 'An earlier step of the setup is not done yet.' },
  'setup_link.test_required': { status: 409, message: 'Test the sign-in first: the connection goes live only after a successful test through this link.' },
  'setup_link.not_found': { status: 404, message: 'No such setup link in this tenant.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof SetupLinkErrors, true> {}
}
