/**
 * Every error code the sign-in pages and the console can meet, as a person should read it: what happened and what to
 * do next (docs/errors.md is the source; test/console-errors.test.ts fails when a code of the sign-in, session,
 * profile, domain or single sign-on sections of docs/errors.md has no entry here). Plain data: no DOM, no React.
 */
export interface HumanError {
  readonly message: string;
  readonly next: string;
}

export const ERROR_MESSAGES: Readonly<Record<string, HumanError>> = {
  // General
  invalid_request: { message: 'Something in the form is not valid.', next: 'Check the highlighted values and try again.' },
  not_found: { message: 'That item no longer exists.', next: 'Reload the page; it may have been removed by someone else.' },
  payload_too_large: { message: 'What you sent is too large.', next: 'Send less at once.' },
  unsupported_media_type: { message: 'The browser sent data the server does not accept.', next: 'Reload the page and try again.' },
  rate_limited: { message: 'Too many requests from this browser.', next: 'Wait a moment, then try again.' },
  internal_error: { message: 'Something went wrong on the server. Nothing was changed.', next: 'Try again; if it keeps happening, give your administrator the request id.' },
  service_unavailable: { message: 'The server is starting or busy.', next: 'Try again in a few seconds.' },
  network_error: { message: 'The server could not be reached.', next: 'Check your connection, then try again.' },
  // Access
  permission_denied: { message: 'You do not have permission to do this.', next: 'Ask an administrator for a role that allows it.' },
  // Users and profile
  'identity.cannot_delete_self': { message: 'You cannot deactivate your own user.', next: 'Ask another tenant administrator to do it.' },
  'identity.last_tenant_admin': { message: 'This would leave the workspace without an active tenant administrator.', next: 'Make another user a tenant administrator first.' },
  'identity.email_domain_mismatch': { message: "This email address is outside the workspace's allowed domains.", next: "Use an address in one of the workspace's domains." },
  'identity.email_taken': { message: 'A user with this email address already exists.', next: 'Use another address, or edit the existing user.' },
  'identity.password_policy': { message: 'This password is not allowed.', next: 'Choose a longer, uncommon password that is not your email address: a phrase of several words works well.' },
  'identity.current_password_invalid': { message: 'Your current password is not correct.', next: 'Enter the password you signed in with.' },
  'identity.tenant_admin_required': { message: 'Only a tenant administrator can do this.', next: 'Ask a tenant administrator.' },
  'identity.self_service_required': { message: 'You cannot do this to your own user here.', next: 'Use My profile to change your own password or two-step verification.' },
  'identity.too_many_password_attempts': { message: 'Too many wrong current passwords.', next: 'Wait a little before trying again. If it was not you, end your other sessions.' },
  // Two-step verification
  'mfa.already_enabled': { message: 'Two-step verification is already on.', next: 'Turn it off first if you want to set it up again.' },
  'mfa.setup_not_started': { message: 'The setup of two-step verification was not started.', next: 'Start the setup again.' },
  'mfa.not_enabled': { message: 'Two-step verification is not on.', next: 'Nothing to do.' },
  'mfa.invalid_code': { message: 'That code is not correct.', next: "Enter the current 6-digit code from your authenticator app; check your phone's clock." },
  // Sign-in and sessions
  'sessions.invalid_credentials': { message: 'Invalid email or password.', next: 'Check both and try again. If your account was deactivated, ask your administrator.' },
  'sessions.invalid_mfa_code': { message: 'That code is not correct, or was already used.', next: 'Enter the current code from your authenticator app, or an unused recovery code.' },
  invalid_token: { message: 'Your sign-in has expired.', next: 'Sign in again.' },
  'sessions.account_context_required': { message: 'No account is selected.', next: 'Choose an account to continue.' },
  'sessions.step_up_required': { message: 'Please confirm it is you.', next: 'Enter your current password.' },
  'sessions.no_accounts': { message: 'Your sign-in worked, but you have no access to any account yet.', next: 'Ask an administrator to give you a role.' },
  'sessions.no_account_access': { message: 'You have no access to that account.', next: 'Choose another account.' },
  'sessions.refresh_token_invalid': { message: 'Your session has ended.', next: 'Sign in again.' },
  'sessions.too_many_attempts': { message: 'Too many sign-in attempts.', next: 'Wait a little before trying again.' },
  'sessions.login_busy': { message: 'The server is busy with other sign-ins.', next: 'Try again in a few seconds.' },
  sso_required: { message: 'Your organization signs you in with single sign-on.', next: 'Continue with single sign-on.' },
  'sessions.break_glass_mfa_required': { message: 'Emergency password sign-in needs two-step verification, and you have none set up.', next: 'Sign in with single sign-on and set up two-step verification in My profile.' },
  'sessions.tenant_required': { message: 'This email and password belong to more than one workspace.', next: "Use your workspace's own sign-in link." },
  // Tenants: the slug of the tenant-specific sign-in URL /t/<slug>/login
  'tenants.slug_invalid': { message: 'This slug is not valid.', next: 'Use 2–63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.' },
  'tenants.slug_reserved': { message: 'This slug is reserved by the server.', next: 'Choose another slug.' },
  'tenants.slug_taken': { message: 'Another workspace already uses this slug.', next: 'Choose another slug.' },
  'tenants.slug_not_found': { message: 'No workspace has this sign-in address.', next: 'Check the address with your administrator, or sign in at /login.' },
  // Organizations
  'organizations.name_taken': { message: 'Another organization of the account has this name.', next: 'Choose another name.' },
  'organizations.in_use': { message: 'Roles are scoped to this organization, so it cannot be deleted.', next: 'Delete those roles or change their scope on the Roles page, then delete the organization.' },
  // Audit log
  'audit.invalid_cursor': { message: 'The list of events could not continue from where it was.', next: 'Reload the page to start from the newest event.' },
  'audit.invalid_settings': { message: 'An audit setting is not valid.', next: 'Fix the value as described below, then save again.' },
  // Verified domains
  'domain.invalid': { message: 'That is not a domain name.', next: 'Enter the bare domain, e.g. example.com.' },
  'domain.public_mailbox': { message: 'Public mailbox domains cannot be added.', next: "Add your organization's own domain." },
  'domain.exists': { message: 'This domain is already in the list.', next: 'Verify the existing entry instead.' },
  'domain.taken': { message: 'Another workspace has verified this domain.', next: 'Ask the operator if you believe this is wrong.' },
  'domain.verification_failed': { message: 'The TXT record was not found.', next: 'Publish the record shown, wait for DNS to update, then verify again.' },
  'domain.not_verified': { message: 'The domain is not verified yet.', next: 'Verify the domain first.' },
  'domain.require_sso_unavailable': { message: 'Require SSO cannot be turned on yet.', next: 'Add the domain to an enabled SSO connection and name a break-glass user first.' },
  'domain.dns_unavailable': { message: 'DNS did not answer.', next: 'Try again shortly.' },
  // Single sign-on: the sign-in codes arrive as ?error= on the return to /login
  sso_config: { message: 'Single sign-on is not configured correctly.', next: 'Ask your administrator to check the SSO connection.' },
  sso_disabled: { message: 'Single sign-on is turned off for your organization.', next: 'Ask your administrator to enable the SSO connection.' },
  // Signing in to an application (OpenID Provider)
  'openid_provider.interaction_not_found': { message: 'This sign-in request has expired or was started in another browser.', next: 'Go back to the application and sign in again from there.' },
  'openid_provider.account_mismatch': { message: 'The application belongs to another account than the one you chose.', next: "Sign in again and choose the application's account." },
  'openid_provider.reauthentication_required': { message: 'The application asks you to sign in again.', next: 'Sign in again to continue.' },
  // Applications
  'applications.invalid_redirect_uri': { message: 'A redirect URI is not acceptable.', next: 'Use the exact https address the application receives the answer on (http only on localhost), without a #fragment.' },
  'applications.invalid_origin': { message: 'An allowed origin is not acceptable.', next: 'Give scheme, host and port only, such as https://app.example.com.' },
  // An application's API identifiers (`resources`, RFC 8707 resource indicators).
  'applications.invalid_resource': { message: 'An API identifier is not acceptable.', next: 'Give the identifier your API checks as its audience: an https URL without query or fragment, or a URN.' },
  'applications.invalid_config': { message: "These settings do not fit the application's type.", next: 'Change the setting the message names.' },
  'applications.not_found': { message: 'This application no longer exists.', next: 'Reload the list of applications.' },
  sso_expired: { message: 'The single sign-on attempt took too long or was interrupted.', next: 'Start again, in this browser, with cookies allowed.' },
  sso_state: { message: 'The single sign-on answer did not belong to this browser.', next: 'Start again in this browser.' },
  sso_signature: { message: "Your identity provider's answer could not be verified.", next: 'Ask your administrator to check the SSO connection.' },
  sso_replay: { message: 'This single sign-on answer was already used.', next: 'Start again.' },
  sso_audience: { message: "Your identity provider's answer was meant for another application.", next: "Ask your administrator to check the connection's client id." },
  sso_domain: { message: "Your identity provider did not give an email address of your organization's domains.", next: 'Ask your administrator to check the connection domains.' },
  sso_user_inactive: { message: 'Your identity provider signed you in, but your account here is deactivated.', next: 'Ask your administrator to reactivate your account.' },
  sso_mfa_required: { message: 'Your identity provider did not confirm a second factor.', next: 'Sign in again at your identity provider with two-step verification.' },
  sso_role_forbidden: { message: 'Single sign-on never grants Account Administrator.', next: 'Choose a lesser role.' },
  'sso.connection_not_found': { message: 'That SSO connection no longer exists.', next: 'Reload the page.' },
  'sso.name_taken': { message: 'Another connection has this name.', next: 'Choose another name.' },
  'sso.role_not_found': { message: 'That role is not available to this workspace.', next: 'Choose another role.' },
  'sso.invalid_rule': { message: 'A mapping rule is not valid.', next: 'Fix the rule as described.' },
  'sso.key_not_found': { message: 'No such key.', next: 'Reload the page.' },
  'sso.key_in_use': { message: 'The current key cannot be removed.', next: 'Rotate first, then remove the old key.' },
  'sso.sp_key_not_found': { message: 'No such SP key on this SAML connection.', next: 'Reload the page.' },
  'sso.sp_key_in_use': { message: 'The current SP key cannot be removed.', next: 'Rotate first (the new key becomes current), update the IdP, then remove the old key.' },
  'sso.test_not_found': { message: 'That test has expired.', next: 'Start a new test.' },
  'sso.break_glass_not_admin': { message: 'Only active tenant administrators can be break-glass users.', next: 'Make the user a tenant administrator first.' },
  'sso.break_glass_required': { message: 'At least one break-glass user is needed while Require SSO is on.', next: 'Keep one, or turn Require SSO off first.' },
  'sso.invalid_return_origin': { message: 'That return origin is not valid.', next: 'Give an origin only, e.g. https://app.example.com.' },
  // Access control (the console's user actions)
  'rbac.target_exceeds_own_access': { message: 'This user has access you do not hold.', next: 'Ask an administrator who holds at least their access.' },
  'rbac.last_account_admin': { message: 'This would leave the account without an Account Administrator.', next: 'Give another user the Account Administrator role first.' },
  'rbac.grant_exceeds_own_access': { message: 'You cannot give access you do not hold yourself.', next: 'Ask an administrator who holds it.' },
  'rbac.expiry_in_past': { message: 'The expiry date is not in the future.', next: 'Choose a later date, or none for a permanent assignment.' },
  'rbac.unknown_permission': { message: 'A permission is not in the catalog.', next: 'Choose permissions from the list.' },
  // SCIM directories
  'scim.directory_not_found': { message: 'That SCIM directory no longer exists.', next: 'Reload the page.' },
  'scim.name_taken': { message: 'Another directory has this name.', next: 'Choose another name.' },
  'scim.sso_connection_not_found': { message: 'That SSO connection does not exist.', next: 'Choose another connection, or none.' },
  'scim.too_many_tokens': { message: 'This directory already has two live tokens.', next: 'Revoke the old token once your identity provider uses the new one.' },
  'scim.token_not_found': { message: 'That token no longer exists.', next: 'Reload the page.' },
  'scim.role_not_found': { message: 'That role is not available.', next: 'Choose another role.' },
  'scim.role_forbidden': { message: 'SCIM never grants Account Administrator.', next: 'Choose a lesser role.' },
  'scim.invalid_mapping': { message: 'A group mapping is not valid.', next: 'Fix the mapping as described.' },
  // Setup links
  'setup_link.invalid': { message: 'This setup link is not valid.', next: 'Open the whole link your vendor sent you again, or ask them for a new one.' },
  'setup_link.expired': { message: 'This setup link has expired.', next: 'Ask your vendor for a new setup link.' },
  'setup_link.revoked': { message: 'This setup link was revoked by your vendor.', next: 'Ask your vendor for a new setup link.' },
  'setup_link.completed': { message: 'This setup is finished, so the link no longer works.', next: 'Ask your vendor for a new link to change anything.' },
  'setup_link.creator_inactive': { message: 'The administrator who created this link can no longer manage the workspace, so the link stopped working.', next: 'Ask your vendor for a new setup link.' },
  'setup_link.in_use': { message: 'Someone else is using this setup link in another browser.', next: 'Continue in that browser, or try again once it has been idle for 15 minutes.' },
  'setup_link.intent_forbidden': { message: 'This setup link does not allow this step.', next: 'Ask your vendor for a link that covers it.' },
  'setup_link.step_done': { message: 'This step was already done through this link.', next: 'Continue with the next step.' },
  'setup_link.step_missing': { message: 'An earlier step is not done yet.', next: 'Complete the steps above first.' },
  'setup_link.test_required': { message: 'Test the sign-in before finishing.', next: 'Use "Test sign-in" and finish once it succeeded.' },
  'setup_link.not_found': { message: 'That setup link or domain is not part of this setup.', next: 'Reload the page.' },
};

/**
 * Codes whose server message carries the specific reason (which discovery step failed, which rule is invalid, which
 * permissions are missing): the console shows it under the human text, since the fix depends on it.
 */
export const REASON_CODES: ReadonlySet<string> = new Set(['sso_config', 'sso.invalid_rule', 'scim.invalid_mapping', 'rbac.grant_exceeds_own_access', 'rbac.unknown_permission', 'invalid_request', 'audit.invalid_settings', 'applications.invalid_redirect_uri', 'applications.invalid_origin', 'applications.invalid_resource', 'applications.invalid_config']);

/** The human text for a code; an unknown code falls back to the server's message. */
export function humanError(code: string, serverMessage?: string): HumanError {
  return ERROR_MESSAGES[code] ?? { message: serverMessage ?? 'Something went wrong.', next: 'Try again.' };
}
