import { describe, expect, it } from 'vitest';
import { AddressRefused, addressRefusal, guardedFetch } from './outbound-network.js';

// OWASP SSRF Prevention: loopback, private, link-local (cloud metadata) and mapped addresses are refused by default.
describe('issuer address policy', () => {
  const strict = { allowLoopback: false, privateNetworks: [] };
  it('refuses loopback, private, link-local and IPv4-mapped private addresses; allows public ones', () => {
    for (const a of ['127.0.0.1', '::1', '10.0.0.5', '172.16.3.4', '192.168.1.1', '169.254.169.254', '::ffff:10.0.0.5', 'fd00::1', 'fe80::1', '0.0.0.0']) expect(addressRefusal(a, strict), a).toBeDefined();
    for (const a of ['93.184.216.34', '2606:2800:220:1::1']) expect(addressRefusal(a, strict), a).toBeUndefined();
  });
  it('the operator allow-list admits its networks only; the loopback switch admits loopback only', () => {
    const internal = { allowLoopback: false, privateNetworks: ['10.20.0.0/16'] };
    expect(addressRefusal('10.20.1.1', internal)).toBeUndefined();
    expect(addressRefusal('10.21.1.1', internal)).toBeDefined();
    expect(addressRefusal('127.0.0.1', internal)).toBeDefined();
    expect(addressRefusal('127.0.0.1', { allowLoopback: true, privateNetworks: [] })).toBeUndefined();
    expect(addressRefusal('10.0.0.1', { allowLoopback: true, privateNetworks: [] })).toBeDefined();
  });
});

describe('outbound network guard, shared by SSO and the audit webhook', () => {
  const strict = { allowLoopback: false, privateNetworks: [] };
  const names = { allowLoopback: 'TESSERA_X_ALLOW_LOOPBACK', privateNetworks: 'TESSERA_X_PRIVATE_NETWORKS' };
  it('a refusal names the setting of the caller that would allow it', () => {
    expect(addressRefusal('10.0.0.5', strict, names)).toBe('10.0.0.5 is a private or reserved address (allow its network with TESSERA_X_PRIVATE_NETWORKS)');
    expect(addressRefusal('127.0.0.1', strict, names)).toContain('TESSERA_X_ALLOW_LOOPBACK');
  });

  // Sockets connect to an IP literal without a DNS look-up, so the lookup guard alone would let it through.
  it('guardedFetch refuses an IP literal before connecting, and through the lookup a name resolving to loopback', async () => {
    const { fetch, close } = guardedFetch(strict, { timeoutMs: 2_000, settings: names });
    try {
      for (const url of ['http://169.254.169.254/latest/meta-data/', 'https://[::ffff:10.0.0.5]/x', 'http://127.0.0.1:2/', 'http://localhost:2/']) {
        const failure = await fetch(url).then(() => undefined, (err: Error) => err);
        expect(failure, url).toBeInstanceOf(TypeError);
        expect((failure as Error & { cause?: unknown }).cause, url).toBeInstanceOf(AddressRefused);
      }
    } finally {
      await close();
    }
  });
});
