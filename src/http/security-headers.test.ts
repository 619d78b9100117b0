import { describe, expect, it } from 'vitest';
import { securityHeaders } from './security-headers.js';

describe('security headers', () => {
  const csp = { directives: { defaultSrc: ["'self'"] } };

  it('carries helmet defaults: nosniff, frame and referrer policies, CSP', () => {
    const headers = securityHeaders({ contentSecurityPolicy: csp });
    expect(headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    });
    expect(headers['content-security-policy']).toContain("default-src 'self'");
  });

  it('sends HSTS only when asked (PUBLIC_URL on https)', () => {
    expect(securityHeaders({ contentSecurityPolicy: csp, strictTransportSecurity: false })).not.toHaveProperty('strict-transport-security');
    expect(securityHeaders({ contentSecurityPolicy: csp, strictTransportSecurity: { maxAge: 31536000, includeSubDomains: true } })['strict-transport-security']).toBe(
      'max-age=31536000; includeSubDomains',
    );
  });
});
