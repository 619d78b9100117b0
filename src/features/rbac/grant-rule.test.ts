import { describe, expect, it } from 'vitest';
import { type Grant, shortfall, takeoverShortfall } from './grant-rule.js';
import type { GrantRow } from './rbac.store.js';
import { resolve } from './resolver.js';
import { ACCOUNT_ADMIN } from './system-roles.js';

const ACCOUNT = 'acc';
const ORG_A = 'org-a';
const ORG_B = 'org-b';
const T = new Date('2030-01-01T00:00:00Z');

let n = 0;
function row(permissions: string[], options: { org?: string; expiresAt?: Date; admin?: boolean } = {}): GrantRow {
  n++;
  return {
    assignment_id: `a${n}`,
    account_id: ACCOUNT,
    role_id: `r${n}`,
    role_name: `Role ${n}`,
    system_key: options.admin ? ACCOUNT_ADMIN.systemKey : null,
    organization_id: options.org ?? null,
    permissions,
    expires_at: options.expiresAt ?? null,
    group_id: null,
    group_name: null,
  };
}

const grant = (keys: string[], options: Partial<Grant> = {}): Grant => ({ accountId: ACCOUNT, keys, organizationId: null, until: null, ...options });

/** The pure grant rule (grant-rule.ts): scope, time and the Account Administrator role. */
describe('shortfall', () => {
  it('names the keys not held; nothing missing for keys held account-wide without end', () => {
    const held = resolve([row(['idp.view', 'idp.manage'])], []);
    expect(shortfall(held, [grant(['idp.view'])])).toEqual({ missing: [], accountAdminRequired: false });
    expect(shortfall(held, [grant(['idp.view', 'audit.export', 'access_grants.manage'])])).toEqual({ missing: ['access_grants.manage', 'audit.export'], accountAdminRequired: false });
  });

  it('scope: a key held in organization A covers a grant in A only; an account-wide key covers every scope', () => {
    const held = resolve([row(['hosts.view'], { org: ORG_A }), row(['hosts.deploy'])], []);
    expect(shortfall(held, [grant(['hosts.view'], { organizationId: ORG_A })]).missing).toEqual([]);
    expect(shortfall(held, [grant(['hosts.view'], { organizationId: ORG_B })]).missing).toEqual(['hosts.view']);
    expect(shortfall(held, [grant(['hosts.view'])]).missing).toEqual(['hosts.view']);
    expect(shortfall(held, [grant(['hosts.deploy'], { organizationId: ORG_B })]).missing).toEqual([]);
  });

  it('time: a key held until T covers grants ending by T, never a grant without end', () => {
    const held = resolve([row(['audit.view'], { expiresAt: T })], []);
    expect(shortfall(held, [grant(['audit.view'], { until: T })]).missing).toEqual([]);
    expect(shortfall(held, [grant(['audit.view'], { until: new Date(T.getTime() + 1) })]).missing).toEqual(['audit.view']);
    expect(shortfall(held, [grant(['audit.view'])]).missing).toEqual(['audit.view']);
    // A second, lasting source of the same key covers it.
    expect(shortfall(resolve([row(['audit.view'], { expiresAt: T }), row(['audit.view'])], []), [grant(['audit.view'])]).missing).toEqual([]);
  });

  it('Account Administrator: only its holders give it, whatever keys a custom role carries', () => {
    const catalog = ['idp.view', 'idp.manage', 'hosts.view'];
    const everyKey = resolve([row(catalog)], []);
    expect(shortfall(everyKey, [grant([], { accountAdmin: true })])).toEqual({ missing: [], accountAdminRequired: true });
    const admin = resolve([row([], { admin: true })], catalog);
    expect(shortfall(admin, [grant(catalog, { accountAdmin: true })])).toEqual({ missing: [], accountAdminRequired: false });
    // An expiring administrator cannot give the role without end.
    const temporary = resolve([row([], { admin: true, expiresAt: T })], catalog);
    expect(shortfall(temporary, [grant([], { accountAdmin: true })]).accountAdminRequired).toBe(true);
    expect(shortfall(temporary, [grant([], { accountAdmin: true, until: T })]).accountAdminRequired).toBe(false);
  });

  it('several grants (a group holding several roles): the union of what is missing', () => {
    const held = resolve([row(['idp.view'])], []);
    expect(shortfall(held, [grant(['idp.view', 'audit.view']), grant(['sso.manage'], { organizationId: ORG_A }), grant([], { accountAdmin: true })])).toEqual({
      missing: ['audit.view', 'sso.manage'],
      accountAdminRequired: true,
    });
  });
});

/** The pure takeover rule (grant-rule.ts): acting as a user needs at least the user's access, account by account. */
describe('takeoverShortfall', () => {
  const CATALOG = ['idp.view', 'idp.manage', 'audit.export', 'roles.edit'];
  const one = (actor: GrantRow[], target: GrantRow[]) => [{ accountId: ACCOUNT, actor: resolve(actor, CATALOG), target: resolve(target, CATALOG) }];
  const admins = { actor: true, target: false };

  it('an idp.manage holder cannot act as an Account Administrator; another Account Administrator can', () => {
    const target = [row([], { admin: true })];
    expect(takeoverShortfall(one([row(['idp.view', 'idp.manage'])], target), admins)).toEqual({ missing: [], accountAdminRequired: true, tenantAdminRequired: false, accounts: [ACCOUNT] });
    // Even every key of the catalog through a custom role does not stand for the role.
    expect(takeoverShortfall(one([row(CATALOG)], target), admins).accountAdminRequired).toBe(true);
    expect(takeoverShortfall(one([row([], { admin: true })], target), admins)).toEqual({ missing: [], accountAdminRequired: false, tenantAdminRequired: false, accounts: [] });
  });

  it("names the target's keys the actor lacks; a target holding less is allowed", () => {
    const actor = [row(['idp.view', 'idp.manage'])];
    expect(takeoverShortfall(one(actor, [row(['idp.view', 'audit.export'])]), admins).missing).toEqual(['audit.export']);
    expect(takeoverShortfall(one(actor, [row(['idp.view'])]), admins).accounts).toEqual([]);
    expect(takeoverShortfall(one(actor, []), admins).accounts).toEqual([]);
  });

  it('scope and time as for grants: an organization key does not cover an account-wide one; an expiring one not a lasting one', () => {
    expect(takeoverShortfall(one([row(['audit.export'], { org: ORG_A })], [row(['audit.export'])]), admins).missing).toEqual(['audit.export']);
    expect(takeoverShortfall(one([row(['audit.export'])], [row(['audit.export'], { org: ORG_B })]), admins).missing).toEqual([]);
    expect(takeoverShortfall(one([row(['audit.export'], { expiresAt: T })], [row(['audit.export'])]), admins).missing).toEqual(['audit.export']);
    expect(takeoverShortfall(one([row([], { admin: true, expiresAt: T })], [row([], { admin: true })]), admins).accountAdminRequired).toBe(true);
    expect(takeoverShortfall(one([row(['audit.export'], { expiresAt: T })], [row(['audit.export'], { expiresAt: T })]), admins).missing).toEqual([]);
  });

  it('every account of the target counts: enough in one does not cover another', () => {
    const accounts = [
      { accountId: 'acc-1', actor: resolve([row([], { admin: true })], CATALOG), target: resolve([row([], { admin: true })], CATALOG) },
      { accountId: 'acc-2', actor: resolve([], CATALOG), target: resolve([row(['idp.view'])], CATALOG) },
    ];
    expect(takeoverShortfall(accounts, admins)).toEqual({ missing: ['idp.view'], accountAdminRequired: false, tenantAdminRequired: false, accounts: ['acc-2'] });
  });

  it('a tenant administrator is acted on only by a tenant administrator', () => {
    expect(takeoverShortfall([], { actor: false, target: true }).tenantAdminRequired).toBe(true);
    expect(takeoverShortfall([], { actor: true, target: true }).tenantAdminRequired).toBe(false);
    expect(takeoverShortfall([], { actor: false, target: false }).tenantAdminRequired).toBe(false);
  });
});
