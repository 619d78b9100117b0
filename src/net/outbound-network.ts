import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, type RequestInit as UndiciRequestInit, fetch as undiciFetch } from 'undici';

/**
 * Where the server may send a request whose URL someone other than the operator chose: the server-side request
 * forgery guard (OWASP SSRF Prevention Cheat Sheet, "network layer"). SSO issuer and metadata URLs and audit SIEM
 * webhooks come from tenant administrators, so a name that resolves to loopback, a private range, link-local (cloud
 * metadata at 169.254.169.254) or other reserved space is refused, unless the operator allows it for that use: a
 * loopback switch (development and tests) or a list of CIDRs (an internal IdP or SIEM). The check runs in the
 * socket's own DNS lookup, so the address checked is the address connected to (no rebinding between check and
 * use); an IP literal, which sockets connect to without a lookup, is checked before the request starts.
 */
export interface OutboundNetworkPolicy {
  readonly allowLoopback: boolean;
  readonly privateNetworks: readonly string[];
}

/** The operator settings that widen a policy, named in refusals so whoever reads one knows what to change. */
export interface OutboundSettingNames {
  readonly allowLoopback: string;
  readonly privateNetworks: string;
}

const UNNAMED: OutboundSettingNames = { allowLoopback: 'the loopback setting', privateNetworks: 'the private-networks setting' };

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

// RFC 6890 special-purpose ranges (IPv4 and IPv6) that are not the public internet.
const RESERVED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) RESERVED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) RESERVED.addSubnet(net, prefix, 'ipv6');

function allowList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/');
    const family = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(address!, Number(prefix), family);
  }
  return list;
}

/** The reason the address may not be reached, or undefined when it may; `settings` are named in the reason. */
export function addressRefusal(address: string, policy: OutboundNetworkPolicy, settings: OutboundSettingNames = UNNAMED): string | undefined {
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (LOOPBACK.check(ip, family)) return policy.allowLoopback ? undefined : `${address} is a loopback address (allowed only with ${settings.allowLoopback}, for development and tests)`;
  if (RESERVED.check(ip, family) && !allowList(policy.privateNetworks).check(ip, family)) {
    return `${address} is a private or reserved address (allow its network with ${settings.privateNetworks})`;
  }
  return undefined;
}

export class AddressRefused extends Error {
  readonly code = 'ADDRESS_REFUSED';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for sockets that refuses names resolving to an address the policy does not allow. */
export function guardedLookup(policy: OutboundNetworkPolicy, settings: OutboundSettingNames = UNNAMED) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.map((a) => addressRefusal(a.address, policy, settings)).find((r) => r !== undefined);
      if (refused) return callback(new AddressRefused(`${hostname}: ${refused}`), []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/** Whether the host is `localhost` or a loopback literal (the only http hosts development may use). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || (isIP(host) !== 0 && LOOPBACK.check(host, isIP(host) === 6 ? 'ipv6' : 'ipv4'));
}

export interface GuardedFetchOptions {
  /** PEM certificates to trust instead of the public CAs (an IdP's private CA). */
  readonly ca?: string | null;
  /** Bounds connecting, waiting for headers and reading the body, each. */
  readonly timeoutMs: number;
  /** The settings a refusal names (SSO's or the webhook's). */
  readonly settings?: OutboundSettingNames;
}

export type GuardedFetch = (url: string | URL, init?: UndiciRequestInit) => ReturnType<typeof undiciFetch>;

/**
 * A fetch under the policy: one undici Agent resolving names through the guard, with bounded timeouts; redirects
 * are never followed (a 3xx is answered as is), so a request cannot be bounced to another host. Close it after use.
 */
export function guardedFetch(policy: OutboundNetworkPolicy, { ca, timeoutMs, settings = UNNAMED }: GuardedFetchOptions): { fetch: GuardedFetch; close: () => Promise<void> } {
  const agent = new Agent({
    connect: { lookup: guardedLookup(policy, settings), timeout: timeoutMs, ...(ca ? { ca } : {}) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const fetch: GuardedFetch = (url, init) => {
    // Sockets connect to an IP literal without calling `lookup`: the literal is judged here.
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const refused = isIP(host) !== 0 ? addressRefusal(host, policy, settings) : undefined;
    if (refused) return Promise.reject(new TypeError('fetch failed', { cause: new AddressRefused(`${host}: ${refused}`) }));
    return undiciFetch(url, { ...init, redirect: 'manual', dispatcher: agent });
  };
  return { fetch, close: () => agent.close() };
}

/**
 * One delivery of a notification (an audit webhook event, a back-channel Logout Token) over a guarded fetch: null when
 * the receiver took it (2xx), else the reason for the outbox in words an operator can act on. A redirect is a failed
 * delivery, never followed (it could point anywhere, the guard's allowances included); a refused address names the
 * setting that would allow it. The reason is built from error names, codes and messages only, never from the URL's
 * query string, the headers or the body (which carry secrets).
 */
export async function deliverOnce(fetchImpl: GuardedFetch, url: string, init: { headers: Record<string, string>; body: string }, timeoutMs: number): Promise<string | null> {
  try {
    const response = await fetchImpl(url, { method: 'POST', headers: init.headers, body: init.body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel().catch(() => {});
    if (response.status >= 300 && response.status < 400) return `HTTP ${response.status}: redirect not followed`;
    return response.ok ? null : `HTTP ${response.status}`;
  } catch (error) {
    return deliveryError(error);
  }
}

function deliveryError(error: unknown): string {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 6; e = (e as { cause?: unknown }).cause) chain.push(e);
  const refused = chain.find((e) => e instanceof AddressRefused);
  if (refused) return `refused: ${refused.message}`;
  const code = (e: unknown) => (typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined);
  if (chain.some((e) => (e as Error).name === 'TimeoutError' || /TIMEOUT/.test(code(e) ?? ''))) return 'timeout';
  const innermost = chain.at(-1);
  const message = innermost instanceof Error ? innermost.message : typeof innermost === 'string' ? innermost : 'unknown error';
  return `network: ${code(innermost) ?? message.slice(0, 200)}`;
}
