import { describe, expect, it } from 'vitest';
import { addressRefusal } from './outbound-network.js';

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
