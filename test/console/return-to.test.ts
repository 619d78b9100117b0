import { describe, expect, it } from 'vitest';
import { safeReturnTo } from '../../console/src/login/return-to.js';

// The sign-in page's return URL: this origin only, never an open redirect (OWASP Unvalidated Redirects and Forwards).
describe('the sign-in page return URL', () => {
  const origin = 'https://id.example.com';

  it.each([
    ['/console/users?q=a#x', '/console/users?q=a#x'],
    ['https://id.example.com/console/audit', '/console/audit'],
    ['/api/docs', '/api/docs'],
  ])('keeps %s on this origin', (raw, expected) => {
    expect(safeReturnTo(raw, origin)).toBe(expected);
  });

  it.each([
    null,
    '',
    'https://evil.example/console',
    '//evil.example/console',
    '/\\evil.example',
    '\\\\evil.example',
    'https://id.example.com.evil.example/',
    'https://id.example.com@evil.example/',
    'http://id.example.com/console',
    'https://id.example.com:444/console',
    'javascript:alert(1)',
    'data:text/html,hi',
    '/console\n/x',
    ' /console',
    '/login?returnTo=/console',
  ])('sends %j to the console instead', (raw) => {
    expect(safeReturnTo(raw, origin)).toBe('/console');
  });
});
