import { createRequire } from 'node:module';
import { normaliseDomain } from './domain-name.js';

/**
 * Public mailbox domains (anyone may get an address there), refused as tenant domains: a verified domain
 * routes every address of it to one tenant, and SSO discovery sends them to that tenant's IdP. The list is
 * the `email-providers` package's all.json (ISC, no install script, a plain JSON array) plus the providers it
 * lacks, kept here; operators add more with TESSERA_PUBLIC_MAILBOX_DOMAINS. Exact match after normalising
 * (lowercase, IDNA A-labels): subdomains of a listed domain are not public mailboxes.
 */
const PACKAGED = createRequire(import.meta.url)('email-providers/all.json') as string[];

/** Public mailbox providers missing from `email-providers` (checked against its all.json 2.27.0). */
export const MAINTAINED_PUBLIC_MAILBOX_DOMAINS: readonly string[] = [
  'fastmail.com',
  'tutanota.com',
  'tutanota.de',
  'tutamail.com',
  'tuta.io',
  'keemail.me',
  'duck.com',
  'posteo.de',
  'posteo.net',
  'mailfence.com',
  'disroot.org',
  'riseup.net',
  'startmail.com',
  'passmail.net',
];

const BUILTIN: ReadonlySet<string> = new Set([...PACKAGED, ...MAINTAINED_PUBLIC_MAILBOX_DOMAINS].map((d) => d.toLowerCase()));

/** Whether `domain` is a public mailbox domain, by the shipped list and the operator's `extra` ones. */
export function isPublicMailboxDomain(domain: string, extra: ReadonlySet<string> = new Set()): boolean {
  const d = normaliseDomain(domain) ?? domain.trim().toLowerCase();
  return BUILTIN.has(d) || extra.has(d);
}
