import { defineErrors } from '../../kernel/app-error.js';

export const DomainErrors = defineErrors({
  'domain.invalid': { status: 422, message: 'Not a domain name: give a registrable host name such as example.com (no IP address, wildcard, port or path).' },
  'domain.public_mailbox': { status: 422, message: 'This is a public mailbox domain (anyone can have an address there); it cannot be a tenant domain.' },
  'domain.exists': { status: 409, message: 'This domain is already added to the tenant.' },
  'domain.taken': { status: 409, message: 'Another tenant holds this domain verified.' },
  'domain.verification_failed': { status: 422, message: 'The verification TXT record was not found: publish it at _tessera-verification.<domain> and retry.' },
  'domain.not_verified': { status: 409, message: 'Verify the domain first: Require SSO applies only to a verified domain.' },
  'domain.require_sso_unavailable': { status: 409, message: 'Require SSO cannot be turned on yet: the tenant needs an enabled SSO connection that lists this domain and at least one break-glass user.' },
  'domain.dns_unavailable': { status: 503, message: 'The DNS resolver did not answer; nothing was changed. Retry later.' },
});

declare module '../../kernel/app-error.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging (see ErrorCodeRegistry)
  interface ErrorCodeRegistry extends Record<keyof typeof DomainErrors, true> {}
}
