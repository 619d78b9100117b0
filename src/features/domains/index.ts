export { createDomainsService, DEFAULT_RECHECK, domainRequiresSso, requireSsoDomains, verifiedDomainOwner, type DomainInfo, type DomainsDeps, type DomainsService, type RecheckPolicy } from './domains.service.js';
export { domainsRoutes } from './domains.routes.js';
export { DomainErrors } from './domains.errors.js';
export { createTxtLookup, type DnsOutcome, type TxtLookup } from './dns-check.js';
export { emailDomain, normaliseDomain } from './domain-name.js';
export { isPublicMailboxDomain } from './public-mailboxes.js';
export { AddDomainBody, DomainSchema } from './domains.schema.js';
