import { Resolver } from 'node:dns/promises';
import { verificationRecordName, verificationRecordValue } from './domain-name.js';

/**
 * What a DNS look-up of the verification record found: the record (`found`), no such record (`absent`: the
 * name does not exist, has no TXT, or none carries the token), or no answer from the resolver (`unavailable`:
 * refused, timed out, a server failure), which says nothing about the domain.
 */
export type DnsOutcome = 'found' | 'absent' | 'unavailable';

export interface TxtLookup {
  check(domain: string, token: string): Promise<DnsOutcome>;
}

export interface ResolverOptions {
  /** `ip` or `ip:port` entries; empty: the system's resolvers (/etc/resolv.conf). */
  readonly servers: readonly string[];
  readonly timeoutMs: number;
}

// c-ares answers (Node's dns module): the name or its TXT records do not exist.
const ABSENT = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

/** The TXT look-up through `node:dns/promises` `Resolver`, with the configured servers and a bounded wait. */
export function createTxtLookup({ servers, timeoutMs }: ResolverOptions): TxtLookup {
  return {
    async check(domain, token) {
      const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
      if (servers.length > 0) resolver.setServers([...servers]);
      const expected = verificationRecordValue(token);
      try {
        const records = await resolver.resolveTxt(verificationRecordName(domain));
        // RFC 7208 §3.3 practice: one record may arrive split into 255-octet strings; they are one value.
        return records.some((strings) => strings.join('').trim() === expected) ? 'found' : 'absent';
      } catch (error) {
        return ABSENT.has((error as NodeJS.ErrnoException).code ?? '') ? 'absent' : 'unavailable';
      }
    },
  };
}
