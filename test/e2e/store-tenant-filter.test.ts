import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/db/database.js';
import * as apiKeys from '../../src/features/api-keys/api-keys.store.js';
import * as applications from '../../src/features/applications/applications.store.js';
import * as artifacts from '../../src/features/openid-provider/artifacts.store.js';
import * as backchannel from '../../src/features/openid-provider/backchannel-logout.store.js';
import * as audit from '../../src/features/audit/audit.store.js';
import * as domains from '../../src/features/domains/domains.store.js';
import * as loginUsers from '../../src/features/identity/login-user.store.js';
import * as users from '../../src/features/identity/users.store.js';
import * as keys from '../../src/features/keys/keys.store.js';
import * as mfa from '../../src/features/mfa/mfa.store.js';
import * as directory from '../../src/features/identity/directory.store.js';
import * as groups from '../../src/features/identity/groups.store.js';
import * as accounts from '../../src/features/tenants/accounts.store.js';
import * as rbac from '../../src/features/rbac/rbac.store.js';
import * as sessions from '../../src/features/sessions/sessions.store.js';
import * as sso from '../../src/features/sso/sso.store.js';
import * as scim from '../../src/features/scim/scim.store.js';
import * as organizations from '../../src/features/tenants/organizations.store.js';
import * as tenants from '../../src/features/tenants/tenants.store.js';
import { canonicalParts } from '../../src/features/audit/audit-chain.js';
import { prepareEvent } from '../../src/features/audit/audit-recorder.js';
import { newId } from '../../src/kernel/ids.js';
import { engines } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { loginAsAdmin } from '../support/login.js';

/**
 * DESIGN §4 "tenant isolation twice", the first wall alone: every store's tenant (or account) filter,
 * exercised as the table owner, whom row-level security does not confine. Each case asks a store, on behalf
 * of tenant B (or B's account), for tenant A's rows by their real ids: a store query that forgets its
 * `where tenant_id = …` finds them here, where RLS would have hidden the mistake. Each read has a control —
 * the same call for tenant A finds the row — so a case cannot pass by asking for nothing. Everything runs in
 * one owner transaction that is rolled back.
 */
interface Ctx {
  readonly tenant: string;
  readonly account: string;
}
interface World {
  readonly user: string;
  readonly email: string;
  readonly session: string;
  readonly refreshHash: Buffer;
  readonly role: string;
  readonly assignment: string;
  readonly group: string;
  readonly org: string;
  readonly seq: number;
  readonly tenant: string;
  readonly headHash: string;
  readonly checkpointHash: string;
  readonly customRole: string;
  readonly lapsed: string;
  readonly assignmentAccount: string;
  readonly stamp: string;
  readonly expiredJti: string;
  readonly apiKey: string;
  readonly domain: string;
  readonly ssoConnection: string;
  readonly ssoTest: string;
  readonly ssoTestExpired: string;
  readonly managedAssignment: string;
  readonly scimDirectory: string;
  readonly scimToken: string;
  readonly application: string;
  readonly clientId: string;
  readonly backchannelDelivery: string;
  /** The provider account id (`<tenant>.<session>`) of A's grant. */
  readonly grantAccount: string;
}

const now = new Date('2026-03-01T10:00:00Z');
const API_KEY_HASH = Buffer.alloc(32, 7);
const page = { limit: 100, offset: 0 };
const SSO_VALUES = { name: 'SSO A', enabled: false, domains: ['a.example'], defaultRoleId: null, rulesMode: 'highest_match', rules: [], claimMapping: {}, mfaPolicy: {}, config: { issuer: 'https://idp-a.example' }, discovery: null, discoveryFetchedAt: null };
const SCIM_TOKEN_HASH = Buffer.alloc(32, 9);
const SCIM_VALUES = { userName: 'scim-a@a.example', externalId: 'ext-a', active: true, resource: { title: 'Title A', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: ' Finance' } } };
const SCIM_QUERY = { filter: null, sortBy: null, descending: false, offset: 0, limit: 100 };
const mentions = (result: unknown, id: string) => JSON.stringify(result ?? null).includes(id);

type ReadCase = [name: string, run: (tx: Tx, c: Ctx, w: World) => Promise<unknown>, sees: (result: unknown, w: World) => boolean];
type WriteCase = [name: string, run: (tx: Tx, c: Ctx, w: World) => Promise<unknown>, intact: (tx: Tx, a: Ctx, w: World) => Promise<boolean>];

const bySome = (key: keyof World) => (r: unknown, w: World) => mentions(r, String(w[key]));
const isTrue = (r: unknown) => r === true;
const positive = (r: unknown) => typeof r === 'number' && r > 0;

const READS: ReadCase[] = [
  // identity
  ['users.findUser', (tx, c, w) => users.findUser(tx, c.tenant, w.user), bySome('user')],
  ['users.findUserByEmail', (tx, c, w) => users.findUserByEmail(tx, c.tenant, w.email), bySome('user')],
  ['users.passwordHashOf', (tx, c, w) => users.passwordHashOf(tx, c.tenant, w.user), (r) => typeof r === 'string'],
  ['users.isActiveTenantAdmin', (tx, c, w) => users.isActiveTenantAdmin(tx, c.tenant, w.user), isTrue],
  ['users.lockActiveTenantAdmins', (tx, c) => users.lockActiveTenantAdmins(tx, c.tenant), bySome('user')],
  ['users.listUsers', (tx, c) => users.listUsers(tx, c.tenant, { ...page }), bySome('user')],
  // sessions
  ['sessions.findSession', (tx, c, w) => sessions.findSession(tx, c.tenant, w.session), bySome('session')],
  ['sessions.readSessionStates', (tx, c, w) => sessions.readSessionStates(tx, [c.tenant], [w.session]), bySome('session')],
  ['sessions.listLiveSessionsOfUser', (tx, c, w) => sessions.listLiveSessionsOfUser(tx, c.tenant, w.user, now), bySome('session')],
  ['sessions.lockRefreshToken', (tx, c, w) => sessions.lockRefreshToken(tx, c.tenant, w.refreshHash), bySome('session')],
  ['sessions.lockRefreshChain', (tx, c, w) => sessions.lockRefreshChain(tx, c.tenant, w.refreshHash), bySome('session')],
  ['loginUsers.findLoginUser', (tx, c, w) => loginUsers.findLoginUser(tx, c.tenant, w.email), bySome('user')],
  ['loginUsers.findLoginUserById', (tx, c, w) => loginUsers.findLoginUserById(tx, c.tenant, w.user), bySome('user')],
  // mfa
  ['mfa.findFactor', (tx, c, w) => mfa.findFactor(tx, c.tenant, w.user), (r) => r !== undefined],
  ['mfa.countUnusedRecoveryCodes', (tx, c, w) => mfa.countUnusedRecoveryCodes(tx, c.tenant, w.user), positive],
  // groups
  ['groups.findGroup', (tx, c, w) => groups.findGroup(tx, c.tenant, w.group), bySome('group')],
  ['groups.listGroups', (tx, c) => groups.listGroups(tx, c.tenant, { ...page }), bySome('group')],
  ['groups.listMembers', (tx, c, w) => groups.listMembers(tx, c.tenant, w.group, { ...page }), bySome('user')],
  ['groups.isMember', (tx, c, w) => groups.isMember(tx, c.tenant, w.group, w.user), isTrue],
  ['groups.groupsOfUser', (tx, c, w) => groups.groupsOfUser(tx, c.tenant, w.user), bySome('group')],
  ['groups.groupRefs', (tx, c, w) => groups.groupRefs(tx, c.tenant, [w.group]), bySome('group')],
  ['groups.searchGroups', (tx, c) => groups.searchGroups(tx, c.tenant, 'Group', 10), bySome('group')],
  ['directory.findUserRef', (tx, c, w) => directory.findUserRef(tx, c.tenant, w.user), bySome('user')],
  ['directory.userRefs', (tx, c, w) => directory.userRefs(tx, c.tenant, [w.user]), bySome('user')],
  ['directory.searchActiveUsers', (tx, c, w) => directory.searchActiveUsers(tx, c.tenant, w.email.slice(0, 8), 10), bySome('user')],
  // rbac (tenant-owned assignments; account-owned roles and catalog)
  ['rbac.findAssignment', (tx, c, w) => rbac.findAssignment(tx, c.tenant, w.assignment), bySome('assignment')],
  ['rbac.grantsOfGroup', (tx, c, w) => rbac.grantsOfGroup(tx, c.tenant, w.group, now), (r) => mentions(r, 'Group role A')],
  ['rbac.listAssignments', (tx, c) => rbac.listAssignments(tx, c.tenant, c.account, { includeExpired: true, now }), bySome('assignment')],
  ['rbac.activeAssignmentsOfRole', (tx, c, w) => rbac.activeAssignmentsOfRole(tx, c.tenant, c.account, w.role, now), positive],
  ['rbac.grantsOfUser', (tx, c, w) => rbac.grantsOfUser(tx, c.tenant, w.user, [w.group], undefined, now), (r) => Array.isArray(r) && r.length > 0],
  ['rbac.accountsOfActiveAssignmentsSql', (tx, c, w) => accounts.accountNamesIn(tx, rbac.accountsOfActiveAssignmentsSql(c.tenant, w.user, now)), (r) => Array.isArray(r) && r.length > 0],
  ['rbac.adminAccountsOfPrincipal', (tx, c, w) => rbac.adminAccountsOfPrincipal(tx, c.tenant, { userId: w.user, groupIds: [w.group] }), (r) => Array.isArray(r) && r.length > 0],
  ['accounts.tenantLinkedToAccount (tenant B, account A)', (tx, c, w) => accounts.tenantLinkedToAccount(tx, c.tenant, w.assignmentAccount), isTrue],
  ['rbac.findRole', (tx, c, w) => rbac.findRole(tx, c.account, w.role), bySome('role')],
  ['rbac.findRoleInAccounts', (tx, c, w) => rbac.findRoleInAccounts(tx, [c.account], w.role), bySome('role')],
  ['rbac.listRoles', (tx, c) => rbac.listRoles(tx, c.account), bySome('role')],
  ['rbac.findSystemRole', (tx, c) => rbac.findSystemRole(tx, c.account, 'account_admin'), bySome('role')],
  ['accounts.organizationExists', (tx, c, w) => accounts.organizationExists(tx, c.account, w.org), isTrue],
  ['accounts.organizationsOf', (tx, c) => accounts.organizationsOf(tx, [c.account]), bySome('org')],
  ['rbac.rolesUsing', (tx, c) => rbac.rolesUsing(tx, c.account, ['audit.view']), bySome('customRole')],
  ['rbac.appCatalog', (tx, c) => rbac.appCatalog(tx, c.account), (r) => mentions(r, 'hosts.view')],
  ['rbac.appTemplates', (tx, c) => rbac.appTemplates(tx, c.account), (r) => mentions(r, 'viewer_a')],
  ['rbac.catalogVersion', (tx, c) => rbac.catalogVersion(tx, c.account), (r) => r === 7],
  ['rbac.lockCatalogVersion', (tx, c) => rbac.lockCatalogVersion(tx, c.account), (r) => r === 7],
  ['rbac.countRolesScopedTo', (tx, c, w) => rbac.countRolesScopedTo(tx, c.account, w.org), positive],
  // api keys (tenant B with tenant A's account: only the tenant filter stands between them)
  ['applications.listApplications', (tx, c, w) => applications.listApplications(tx, c.tenant, w.assignmentAccount), bySome('application')],
  ['applications.findApplication', (tx, c, w) => applications.findApplication(tx, c.tenant, w.assignmentAccount, w.application), bySome('application')],
  ['backchannel.grantsOfAccounts', (tx, c, w) => backchannel.grantsOfAccounts(tx, c.tenant, [w.grantAccount]), bySome('clientId')],
  ['backchannel.findDelivery', (tx, c, w) => backchannel.findDelivery(tx, c.tenant, w.backchannelDelivery), bySome('backchannelDelivery')],
  ['applications.findBackchannelTargets', (tx, c, w) => applications.findBackchannelTargets(tx, c.tenant, [w.clientId]), bySome('clientId')],
  ['applications.findApplicationByClientId', (tx, c, w) => applications.findApplicationByClientId(tx, c.tenant, w.clientId), bySome('application')],
  ['apiKeys.listKeys', (tx, c, w) => apiKeys.listKeys(tx, c.tenant, w.assignmentAccount), bySome('apiKey')],
  ['apiKeys.findKey', (tx, c, w) => apiKeys.findKey(tx, c.tenant, w.assignmentAccount, w.apiKey), bySome('apiKey')],
  ['apiKeys.findLiveKeyByHash', (tx, c) => apiKeys.findLiveKeyByHash(tx, c.tenant, API_KEY_HASH), bySome('apiKey')],
  // domains
  ['domains.listDomains', (tx, c) => domains.listDomains(tx, c.tenant), bySome('domain')],
  ['domains.findDomain', (tx, c, w) => domains.findDomain(tx, c.tenant, w.domain), bySome('domain')],
  ['domains.findDomainByName', (tx, c) => domains.findDomainByName(tx, c.tenant, 'tenant-a.example'), bySome('domain')],
  ['domains.lockDomain', (tx, c, w) => domains.lockDomain(tx, c.tenant, w.domain), bySome('domain')],
  // sso connections
  ['domains.requireSsoDomains', (tx, c) => domains.requireSsoDomains(tx, c.tenant), (r) => mentions(r, 'tenant-a.example')],
  ['sso.listConnections', (tx, c) => sso.listConnections(tx, c.tenant), bySome('ssoConnection')],
  ['sso.enabledConnectionsForDomain', (tx, c) => sso.enabledConnectionsForDomain(tx, c.tenant, 'tenant-a.example'), (r) => mentions(r, 'SSO A enabled')],
  ['sso.listBreakGlass', (tx, c) => sso.listBreakGlass(tx, c.tenant), bySome('user')],
  ['sso.isBreakGlassUser', (tx, c, w) => sso.isBreakGlassUser(tx, c.tenant, w.user), isTrue],
  ['sso.readSettings', (tx, c) => sso.readSettings(tx, c.tenant), (r) => mentions(r, 'https://app-a.example')],
  ['sso.findConnection', (tx, c, w) => sso.findConnection(tx, c.tenant, w.ssoConnection), bySome('ssoConnection')],
  ['sso.findIdentityUser', (tx, c, w) => sso.findIdentityUser(tx, c.tenant, w.ssoConnection, 'subject-a'), bySome('user')],
  ['sso.findLogin', (tx, c) => sso.findLogin(tx, c.tenant, '00000000-0000-4000-8000-00000000a021'), (r) => mentions(r, 'subject-a')],
  ['sso.findLoginIds', (tx, c, w) => sso.findLoginIds(tx, c.tenant, w.ssoConnection, 'subject-a', ['_s1']), (r) => mentions(r, '00000000-0000-4000-8000-00000000a021')],
  ['sso.nameTaken', (tx, c) => sso.nameTaken(tx, c.tenant, 'SSO A'), isTrue],
  ['sso.findTest', (tx, c, w) => sso.findTest(tx, c.tenant, w.ssoConnection, w.ssoTest, now), bySome('ssoTest')],
  ['rbac.managedAssignmentsOfUser', (tx, c, w) => rbac.managedAssignmentsOfUser(tx, c.tenant, w.user, `sso:${w.ssoConnection}`), bySome('managedAssignment')],
  // scim directories, tokens, users
  ['scim.listDirectories', (tx, c) => scim.listDirectories(tx, c.tenant), bySome('scimDirectory')],
  ['scim.findDirectory', (tx, c, w) => scim.findDirectory(tx, c.tenant, w.scimDirectory), bySome('scimDirectory')],
  ['scim.directoryNameTaken', (tx, c) => scim.directoryNameTaken(tx, c.tenant, 'SCIM A'), isTrue],
  ['scim.lockDirectory', (tx, c, w) => scim.lockDirectory(tx, c.tenant, w.scimDirectory), isTrue],
  ['scim.listTokens', (tx, c, w) => scim.listTokens(tx, c.tenant, w.scimDirectory), bySome('scimToken')],
  ['scim.lockLiveTokens', (tx, c, w) => scim.lockLiveTokens(tx, c.tenant, w.scimDirectory), bySome('scimToken')],
  ['scim.findLiveToken', (tx, c, w) => scim.findLiveToken(tx, c.tenant, w.scimDirectory, SCIM_TOKEN_HASH), bySome('scimToken')],
  ['scim.findScimUser', (tx, c, w) => scim.findScimUser(tx, c.tenant, w.scimDirectory, w.user), bySome('user')],
  ['scim.directoryOfUser', (tx, c, w) => scim.directoryOfUser(tx, c.tenant, w.user), bySome('scimDirectory')],
  ['scim.userNameTaken', (tx, c, w) => scim.userNameTaken(tx, c.tenant, w.scimDirectory, 'SCIM-A@a.example'), isTrue],
  ['scim.directoryUserIds', (tx, c, w) => scim.directoryUserIds(tx, c.tenant, w.scimDirectory), bySome('user')],
  ['scim.queryScimUsers', (tx, c, w) => scim.queryScimUsers(tx, c.tenant, w.scimDirectory, SCIM_QUERY), bySome('user')],
  // scim groups (group A is directory A's SCIM group), role mappings; identity's and rbac's reads for them
  ['scim.findScimGroup', (tx, c, w) => scim.findScimGroup(tx, c.tenant, w.scimDirectory, w.group), bySome('group')],
  ['scim.displayNameTaken', (tx, c, w) => scim.displayNameTaken(tx, c.tenant, w.scimDirectory, 'scim group a'), isTrue],
  ['scim.directoryGroups', (tx, c, w) => scim.directoryGroups(tx, c.tenant, w.scimDirectory), bySome('group')],
  ['scim.directoryUsersAmong', (tx, c, w) => scim.directoryUsersAmong(tx, c.tenant, w.scimDirectory, [w.user]), bySome('user')],
  ['scim.queryScimGroups', (tx, c, w) => scim.queryScimGroups(tx, c.tenant, w.scimDirectory, SCIM_QUERY), bySome('group')],
  ['scim.directoryUsersInDepartment', (tx, c, w) => scim.directoryUsersInDepartment(tx, c.tenant, w.scimDirectory, 'finance'), bySome('user')],
  ['scim.listRoleMappings', (tx, c, w) => scim.listRoleMappings(tx, c.tenant, w.scimDirectory), (r) => mentions(r, 'SCIM Group A')],
  ['groups.groupNameTaken', (tx, c) => groups.groupNameTaken(tx, c.tenant, 'group a'), isTrue],
  ['groups.memberIdsOfGroups', (tx, c, w) => groups.memberIdsOfGroups(tx, c.tenant, [w.group]), (r, w) => (r as Map<string, string[]>).get(w.group)?.includes(w.user) === true],
  ['rbac.managedGroupAssignments', (tx, c, w) => rbac.managedGroupAssignments(tx, c.tenant, `scim:${w.scimDirectory}`), bySome('group')],
  // organizations and tenants
  ['tenants.findTenant', (tx, c) => tenants.findTenant(tx, c.tenant), bySome('tenant')],
  ['organizations.findOrganization', (tx, c, w) => organizations.findOrganization(tx, c.account, w.org), bySome('org')],
  ['organizations.lockOrganization', (tx, c, w) => organizations.lockOrganization(tx, c.account, w.org), bySome('org')],
  ['organizations.listOrganizations', (tx, c) => organizations.listOrganizations(tx, c.account, { ...page }), bySome('org')],
  ['accounts.linkedAccountNames', (tx, c, w) => accounts.linkedAccountNames(tx, c.tenant, [w.assignmentAccount]).then((names) => [...names]), (r, w) => mentions(r, w.assignmentAccount)],
  ['tenants.listAccounts', (tx, c) => tenants.listAccounts(tx, c.tenant), (r, w) => mentions(r, w.assignmentAccount)],
  ['tenants.readSecuritySettings', (tx, c) => tenants.readSecuritySettings(tx, c.tenant), (r) => mentions(r, 'marker-a')],
  // audit
  ['audit.readHead', (tx, c) => audit.readHead(tx, c.tenant), bySome('headHash')],
  ['audit.lockHead', (tx, c) => audit.lockHead(tx, c.tenant), bySome('headHash')],
  ['audit.latestCheckpoint', (tx, c) => audit.latestCheckpoint(tx, c.tenant), bySome('checkpointHash')],
  ['audit.pageEvents', (tx, c) => audit.pageEvents(tx, c.tenant, { order: 'asc', limit: 1000 }), (r, w) => mentions(r, w.user)],
  ['audit.eventsBySeq', (tx, c, w) => audit.eventsBySeq(tx, c.tenant, [w.seq]), (r, w) => mentions(r, w.user)],
  ['audit.readSettings', (tx, c) => audit.readSettings(tx, c.tenant), (r) => mentions(r, 'siem-a.example')],
  ['audit.outboxOf', (tx, c) => audit.outboxOf(tx, c.tenant), (r) => Array.isArray(r) && r.length > 0],
];

/** Counts: each tenant's count equals its own (with A's rows counted too, B's would be larger). */
const COUNTS: [name: string, run: (tx: Tx, c: Ctx) => Promise<number>, own: (tx: Tx, c: Ctx) => Promise<number>][] = [
  ['audit.countEvents', (tx, c) => audit.countEvents(tx, c.tenant, {}), (tx, c) => ownCount(tx, 'audit_events', c.tenant)],
];

const WRITES: WriteCase[] = [
  ['users.updateUser', (tx, c, w) => users.updateUser(tx, c.tenant, w.user, { name: 'Hijacked' }, now), async (tx, a, w) => (await users.findUser(tx, a.tenant, w.user))?.name !== 'Hijacked'],
  ['users.rotateSecurityStamp', (tx, c, w) => users.rotateSecurityStamp(tx, c.tenant, w.user), async (tx, a, w) => (await stampOf(tx, a.tenant, w.user)) === w.stamp],
  // The spend purges the tenant's expired ids first: tenant B's spend must leave tenant A's expired id.
  ['sessions.spendTokenId (purge)', (tx, c) => sessions.spendTokenId(tx, c.tenant, newId(), new Date('2030-01-01T00:00:00Z'), now), async (tx, a, w) => (await usedTokenCount(tx, a.tenant, w.expiredJti)) === 1],
  ['users.setPassword', (tx, c, w) => users.setPassword(tx, c.tenant, w.user, 'hijacked', false, now), async (tx, a, w) => (await users.passwordHashOf(tx, a.tenant, w.user)) !== 'hijacked'],
  ['sessions.revokeSessions', (tx, c, w) => sessions.revokeSessions(tx, c.tenant, { userId: w.user }, now, 'hijack'), async (tx, a, w) => (await sessions.findSession(tx, a.tenant, w.session))?.revoked_at === null],
  ['sessions.revokeSessionsOfUsers', (tx, c, w) => sessions.revokeSessionsOfUsers(tx, c.tenant, { userId: w.user }, now, 'hijack'), async (tx, a, w) => (await sessions.findSession(tx, a.tenant, w.session))?.revoked_at === null],
  ['mfa.deleteFactor', (tx, c, w) => mfa.deleteFactor(tx, c.tenant, w.user), async (tx, a, w) => (await mfa.findFactor(tx, a.tenant, w.user)) !== undefined],
  ['mfa.consumeRecoveryCode', (tx, c, w) => mfa.consumeRecoveryCode(tx, c.tenant, w.user, Buffer.from('code-a'), now), async (tx, a, w) => (await mfa.countUnusedRecoveryCodes(tx, a.tenant, w.user)) === 1],
  ['groups.updateGroup', (tx, c, w) => groups.updateGroup(tx, c.tenant, w.group, { name: 'Hijacked' }, now), async (tx, a, w) => (await groups.findGroup(tx, a.tenant, w.group))?.name !== 'Hijacked'],
  ['groups.removeMember', (tx, c, w) => groups.removeMember(tx, c.tenant, w.group, w.user), async (tx, a, w) => mentions(await groups.listMembers(tx, a.tenant, w.group, { ...page }), w.user)],
  ['groups.deleteGroup', (tx, c, w) => groups.deleteGroup(tx, c.tenant, w.group), async (tx, a, w) => (await groups.findGroup(tx, a.tenant, w.group)) !== undefined],
  ['applications.updateApplication', (tx, c, w) => applications.updateApplication(tx, c.tenant, w.application, { name: 'Taken' }), async (tx, a, w) => (await applications.findApplication(tx, a.tenant, a.account, w.application))?.name === 'App A'],
  ['applications.deleteApplication', (tx, c, w) => applications.deleteApplication(tx, c.tenant, w.application), async (tx, a, w) => (await applications.findApplication(tx, a.tenant, a.account, w.application)) !== undefined],
  ['apiKeys.revokeKey', (tx, c, w) => apiKeys.revokeKey(tx, c.tenant, w.apiKey, now), async (tx, a, w) => (await apiKeys.findKey(tx, a.tenant, a.account, w.apiKey))?.revoked_at === null],
  ['rbac.deleteAssignmentsOfGroup', (tx, c, w) => rbac.deleteAssignmentsOfGroup(tx, c.tenant, w.group), async (tx, a, w) => (await rbac.grantsOfGroup(tx, a.tenant, w.group, now)).length > 0],
  ['rbac.markExpired', (tx, c, w) => rbac.markExpired(tx, c.tenant, w.lapsed, now), async (tx, a, w) => (await rbac.findAssignment(tx, a.tenant, w.lapsed))?.expired_at === null],
  // Tenant B with tenant A's account: only the tenant filter stands between B and A's assignments.
  ['rbac.deleteLapsedAssignmentsOfRole', (tx, c, w) => rbac.deleteLapsedAssignmentsOfRole(tx, c.tenant, w.assignmentAccount, w.role, now), async (tx, a, w) => (await rbac.findAssignment(tx, a.tenant, w.lapsed)) !== undefined],
  ['sso.updateConnection', (tx, c, w) => sso.updateConnection(tx, c.tenant, w.ssoConnection, { ...SSO_VALUES, name: 'Hijacked', actorId: null, now }), async (tx, a, w) => (await sso.findConnection(tx, a.tenant, w.ssoConnection))?.name === 'SSO A'],
  ['sso.setSecret', (tx, c, w) => sso.setSecret(tx, c.tenant, w.ssoConnection, Buffer.from('hijack'), null, now), async (tx, a, w) => Buffer.from((await sso.findConnection(tx, a.tenant, w.ssoConnection))!.client_secret_enc!).toString() === 'secret-a'],
  ['sso.setClientKeys', (tx, c, w) => sso.setClientKeys(tx, c.tenant, w.ssoConnection, { keys: [{ kid: 'hijack' }] }, Buffer.from('hijack'), null, now), async (tx, a, w) => (await sso.findConnection(tx, a.tenant, w.ssoConnection))?.client_key_enc === null],
  ['sso.setFetchedAt', (tx, c, w) => sso.setFetchedAt(tx, c.tenant, w.ssoConnection, new Date('2000-01-01T00:00:00Z')), async (tx, a, w) => new Date((await sso.findConnection(tx, a.tenant, w.ssoConnection))?.discovery_fetched_at ?? 0).getUTCFullYear() !== 2000],
  ['sso.setSamlSpKeys', (tx, c, w) => sso.setSamlSpKeys(tx, c.tenant, w.ssoConnection, { keys: [{ id: 'hijack' }] }, null, now), async (tx, a, w) => (await sso.findConnection(tx, a.tenant, w.ssoConnection))?.saml_sp_keys === null],
  ['sso.finishTest', (tx, c, w) => sso.finishTest(tx, c.tenant, w.ssoTest, 'failed', { hijacked: true }), async (tx, a, w) => (await sso.findTest(tx, a.tenant, w.ssoConnection, w.ssoTest, now))?.status === 'pending'],
  ['sso.purgeTests', (tx, c) => sso.purgeTests(tx, c.tenant, now), async (tx, a, w) => (await tx.selectFrom('sso_connection_tests').select('id').where('tenant_id', '=', a.tenant).where('id', '=', w.ssoTestExpired).execute()).length === 1],
  ['rbac.deleteManagedAssignments', (tx, c, w) => rbac.deleteManagedAssignments(tx, c.tenant, `sso:${w.ssoConnection}`), async (tx, a, w) => (await rbac.findAssignment(tx, a.tenant, w.managedAssignment)) !== undefined],
  ['sso.deleteConnection', (tx, c, w) => sso.deleteConnection(tx, c.tenant, w.ssoConnection), async (tx, a, w) => (await sso.findConnection(tx, a.tenant, w.ssoConnection)) !== undefined],
  ['scim.updateDirectory', (tx, c, w) => scim.updateDirectory(tx, c.tenant, w.scimDirectory, { name: 'Hijacked', ssoConnectionId: null, actorId: null, now }), async (tx, a, w) => (await scim.findDirectory(tx, a.tenant, w.scimDirectory))?.name === 'SCIM A'],
  ['scim.deleteDirectory', (tx, c, w) => scim.deleteDirectory(tx, c.tenant, w.scimDirectory), async (tx, a, w) => (await scim.findDirectory(tx, a.tenant, w.scimDirectory)) !== undefined],
  ['scim.revokeToken', (tx, c, w) => scim.revokeToken(tx, c.tenant, w.scimDirectory, w.scimToken, now), async (tx, a, w) => (await scim.findLiveToken(tx, a.tenant, w.scimDirectory, SCIM_TOKEN_HASH)) !== undefined],
  ['scim.touchToken', (tx, c, w) => scim.touchToken(tx, c.tenant, w.scimToken, now), async (tx, a, w) => (await scim.findLiveToken(tx, a.tenant, w.scimDirectory, SCIM_TOKEN_HASH))?.last_used_at === null],
  ['scim.updateScimUser', (tx, c, w) => scim.updateScimUser(tx, c.tenant, w.scimDirectory, w.user, { ...SCIM_VALUES, userName: 'hijacked' }, now), async (tx, a, w) => (await scim.findScimUser(tx, a.tenant, w.scimDirectory, w.user))?.user_name === SCIM_VALUES.userName],
  ['scim.mirrorActive', (tx, c, w) => scim.mirrorActive(tx, c.tenant, w.user, false, now), async (tx, a, w) => (await scim.findScimUser(tx, a.tenant, w.scimDirectory, w.user))?.active === true],
  ['scim.updateScimGroup', (tx, c, w) => scim.updateScimGroup(tx, c.tenant, w.scimDirectory, w.group, { displayName: 'Hijacked', externalId: null, resource: {} }, now), async (tx, a, w) => (await scim.findScimGroup(tx, a.tenant, w.scimDirectory, w.group))?.display_name === 'SCIM Group A'],
  ['scim.replaceRoleMappings', (tx, c, w) => scim.replaceRoleMappings(tx, c.tenant, w.scimDirectory, [], null, now), async (tx, a, w) => (await scim.listRoleMappings(tx, a.tenant, w.scimDirectory)).length === 1],
  ['scim.setEveryoneGroup', (tx, c, w) => scim.setEveryoneGroup(tx, c.tenant, w.scimDirectory, null), async (tx, a, w) => (await scim.findDirectory(tx, a.tenant, w.scimDirectory))?.everyone_group_id === w.group],
  ['groups.removeMembers', (tx, c, w) => groups.removeMembers(tx, c.tenant, w.group, [w.user]), (tx, a, w) => groups.isMember(tx, a.tenant, w.group, w.user)],
  ['groups.removeUserFromGroups', (tx, c, w) => groups.removeUserFromGroups(tx, c.tenant, w.user, [w.group]), (tx, a, w) => groups.isMember(tx, a.tenant, w.group, w.user)],
  ['scim.deleteScimUser', (tx, c, w) => scim.deleteScimUser(tx, c.tenant, w.scimDirectory, w.user), async (tx, a, w) => (await scim.findScimUser(tx, a.tenant, w.scimDirectory, w.user)) !== undefined],
  ['rbac.deleteAssignment', (tx, c, w) => rbac.deleteAssignment(tx, c.tenant, w.assignment), async (tx, a, w) => (await rbac.findAssignment(tx, a.tenant, w.assignment)) !== undefined],
  ['rbac.setRolePermissions', (tx, c, w) => rbac.setRolePermissions(tx, c.account, w.role, ['hijack.all'], now), async (tx, a, w) => !mentions(await rbac.findRole(tx, a.account, w.role), 'hijack.all')],
  ['rbac.deleteRole (custom role)', (tx, c, w) => rbac.deleteRole(tx, c.account, w.customRole), async (tx, a, w) => (await rbac.findRole(tx, a.account, w.customRole)) !== undefined],
  ['organizations.renameOrganization', (tx, c, w) => organizations.renameOrganization(tx, c.account, w.org, 'Hijacked', now), async (tx, a, w) => (await organizations.findOrganization(tx, a.account, w.org))?.name !== 'Hijacked'],
  ['organizations.deleteOrganization', (tx, c, w) => organizations.deleteOrganization(tx, c.account, w.org), async (tx, a, w) => (await organizations.findOrganization(tx, a.account, w.org)) !== undefined],
  // Slugs are unique across tenants: each tenant's write uses its own.
  ['tenants.updateSlug', (tx, c) => tenants.updateSlug(tx, c.tenant, `hijacked-${c.tenant.slice(-8)}`, now), async (tx, a) => (await tenants.findTenant(tx, a.tenant))?.slug.startsWith('hijacked-') !== true],
  ['tenants.writeSecuritySettings', (tx, c) => tenants.writeSecuritySettings(tx, c.tenant, { hijacked: true }, now), async (tx, a) => !mentions(await tenants.readSecuritySettings(tx, a.tenant), 'hijacked')],
  ['mfa.enableFactor', (tx, c, w) => mfa.enableFactor(tx, c.tenant, w.user, 100, now), async (tx, a, w) => (await mfa.findFactor(tx, a.tenant, w.user))?.enabled_at === null],
  ['mfa.consumeStep', async (tx, c, w) => {
    await tx.updateTable('user_mfa').set({ enabled_at: now }).where('tenant_id', '=', w.tenant).execute();
    return mfa.consumeStep(tx, c.tenant, w.user, 500, now);
  }, async (tx, a, w) => (await mfa.findFactor(tx, a.tenant, w.user))?.last_used_step !== 500],
  ['rbac.updateRole', (tx, c, w) => rbac.updateRole(tx, c.account, w.customRole, { name: 'Hijacked' }, now), async (tx, a, w) => (await rbac.findRole(tx, a.account, w.customRole))?.name !== 'Hijacked'],
  ['keys.replaceWrappedDataKey', (tx, c) => keys.replaceWrappedDataKey(tx, c.tenant, 1, Buffer.from('hijacked'), 'mk'), async (tx, a) => {
    const row = await tx.selectFrom('tenant_keys').select('master_key_id').where('tenant_id', '=', a.tenant).executeTakeFirstOrThrow();
    return row.master_key_id !== 'mk';
  }],
  ['audit.retainBefore', (tx, c) => audit.retainBefore(tx, c.tenant, new Date('2100-01-01T00:00:00Z'), 10_000, now), async (tx, a) => (await ownCount(tx, 'audit_events', a.tenant)) > 0],
  ['audit.rescheduleOutbox', (tx, c, w) => audit.rescheduleOutbox(tx, c.tenant, w.seq, now, 'hijacked'), async (tx, a) => !mentions(await audit.outboxOf(tx, a.tenant), 'hijacked')],
  ['audit.appendAtHead', (tx, c) => {
    const event = prepareEvent(c.tenant, { action: 'user.updated', actor: { type: 'system', id: 'test' }, outcome: 'success' });
    return audit.appendAtHead(tx, c.tenant, event, canonicalParts(event), '2026-03-01T10:00:00.000000Z');
  }, async (tx, a, w) => (await audit.readHead(tx, a.tenant))?.hash === w.headHash],
  ['backchannel.rescheduleDelivery', (tx, c, w) => backchannel.rescheduleDelivery(tx, c.tenant, w.backchannelDelivery, now, 'hijacked'), async (tx, a, w) => (await backchannel.findDelivery(tx, a.tenant, w.backchannelDelivery)) !== undefined && !mentions(await tx.selectFrom('backchannel_logout_outbox').select('last_error').where('tenant_id', '=', a.tenant).execute(), 'hijacked')],
  ['backchannel.deleteDelivery', (tx, c, w) => backchannel.deleteDelivery(tx, c.tenant, w.backchannelDelivery), async (tx, a, w) => (await backchannel.findDelivery(tx, a.tenant, w.backchannelDelivery)) !== undefined],
  ['audit.deleteOutbox', (tx, c, w) => audit.deleteOutbox(tx, c.tenant, [w.seq]), async (tx, a) => (await audit.outboxOf(tx, a.tenant)).length > 0],
  ['domains.updateCheck', (tx, c, w) => domains.updateCheck(tx, c.tenant, w.domain, { status: 'pending', verifiedAt: null, verifiedBy: null, failures: 9, lastCheckedAt: now, nextCheckAt: null }), async (tx, a, w) => (await domains.findDomain(tx, a.tenant, w.domain))?.failures !== 9],
  ['domains.setRequireSso', (tx, c, w) => domains.setRequireSso(tx, c.tenant, w.domain, false), async (tx, a, w) => (await domains.findDomain(tx, a.tenant, w.domain))?.require_sso === true],
  ['sso.replaceBreakGlass', (tx, c) => sso.replaceBreakGlass(tx, c.tenant, [], null, now), (tx, a, w) => sso.isBreakGlassUser(tx, a.tenant, w.user)],
  ['sso.upsertSettings', (tx, c) => sso.upsertSettings(tx, c.tenant, ['https://hijack.example'], null, now), async (tx, a) => !mentions(await sso.readSettings(tx, a.tenant), 'hijack')],
  ['domains.deleteDomain', (tx, c, w) => domains.deleteDomain(tx, c.tenant, w.domain), async (tx, a, w) => (await domains.findDomain(tx, a.tenant, w.domain)) !== undefined],
  ['audit.upsertSettings', (tx, c) => audit.upsertSettings(tx, c.tenant, { retentionDays: 1 }, now), async (tx, a) => (await audit.readSettings(tx, a.tenant))?.retentionDays !== 1],
];

/**
 * Store functions with no case above, and why: each either writes the tenant it is given (an insert whose
 * key is that tenant), or works across tenants by design (operator jobs, global tables).
 */
const NOT_TENANT_FILTERED: Record<string, string> = {
  'audit.createHead': 'insert for the given tenant',
  'audit.appendEvent': 'insert for the given tenant',
  'audit.retentionSettings': 'operator job: every tenant',
  'tenants.allTenantIds': 'operator work: every tenant',
  'tenants.firstTenantOfAccount': 'operator command: finds the tenants an account is linked to',
  'tenants.tenantBySlug': 'public lookup across tenants by design (the sign-in page /t/<slug>/login): SQL function tessera_tenant_by_slug, only id and name leave',
  'audit.claimOutbox': 'delivery job: every tenant',
  'users.insertUser': 'insert for the given tenant',
  'keys.listAllDataKeys': 'operator re-wrap: every tenant',
  'keys.publishedSigningKeys': 'global table',
  'keys.listAllSigningKeys': 'global table',
  'keys.retireCurrentSigningKey': 'global table',
  'keys.insertSigningKey': 'global table',
  'keys.replaceSigningKeyEnc': 'global table',
  'keys.deleteExpiredSigningKeys': 'global table',
  'mfa.savePendingFactor': 'insert for the given tenant',
  'mfa.replaceRecoveryCodes': 'insert for the given tenant (after a filtered delete: a wrong tenant fails on the foreign key)',
  'groups.insertGroup': 'insert for the given tenant',
  'groups.addMember': 'insert for the given tenant',
  'rbac.replaceAppCatalog': 'insert for the given account',
  'rbac.insertRole': 'insert for the given account',
  'rbac.insertAssignment': 'insert for the given tenant',
  'rbac.accountAdminCount': 'calls the SQL function tessera_account_admin_count, keyed by the account',
  'apiKeys.insertKey': 'insert for the given tenant',
  'sso.insertConnection': 'insert for the given tenant',
  'sso.insertTest': 'insert for the given tenant: for a wrong tenant the foreign key to that tenant’s connection fails it whole',
  'sso.insertLogin': 'insert for the given tenant: for a wrong tenant the foreign key to that tenant’s connection fails it whole',
  'sso.linkIdentity': 'upsert keyed by (tenant, connection, subject): for a wrong tenant the foreign key to that tenant’s connection fails it whole',
  'scim.insertDirectory': 'insert for the given tenant',
  'scim.insertToken': 'insert for the given tenant',
  'scim.insertScimUser': 'insert for the given tenant',
  'scim.insertScimGroup': 'insert for the given tenant',
  'groups.addMembers': 'insert for the given tenant, of users selected under that tenant’s filter (another tenant’s user ids add nothing)',
  'groups.membersJsonSql': 'builds an SQL fragment, runs no query (queryScimGroups, covered, correlates it to its own tenant-filtered rows)',
  'groups.groupIdsOfUserSql': 'builds an SQL fragment, runs no query (findScimUser and queryScimUsers, covered, correlate it to their own tenant-filtered rows)',
  'scim.filterSql': 'builds a WHERE expression, runs no query (queryScimUsers, covered, applies it under its tenant filter)',
  'scim.directoryTenant': 'calls the SQL function tessera_scim_directory_tenant: a directory id to its tenant, by design before any tenant is known',
  'sso.connectionTenant': 'calls the SQL function tessera_sso_connection_tenant: a connection id to its tenant, by design before any tenant is known',
  'accounts.accountNames': 'reads the accounts it is given (accounts are linked, not owned)',
  'accounts.accountNamesIn': 'reads the accounts its subquery names (accounts are linked, not owned; rbac.accountsOfActiveAssignmentsSql, covered, filters by tenant)',
  'accounts.authzEpochOf': 'reads the account it is given (accounts are linked, not owned)',
  'accounts.bumpAuthzEpoch': 'moves the epoch of the account it is given',
  'accounts.lockAccounts': 'locks the accounts it is given',
  'rbac.dueAssignments': 'expiry job: every tenant',
  'sessions.insertSession': 'insert for the given tenant (the session, and its refresh token from the session row inserted)',
  'loginUsers.loginTenants': 'tenant discovery by email: every tenant by design',
  'sessions.rotateRefreshToken': 'calls the SQL function tessera_refresh_rotate outside any transaction (Database.callAppFunction), where this suite\'s owner transaction cannot hold it; every statement of the function filters by the tenant it is handed, and it runs as tessera_app under that tenant (src/db/rls.test.ts presents tenant A\'s token under tenant B)',
  'sessions.readSessionStatesOnce': 'the statement of sessions.readSessionStates (its case above: the SQL function filters by (tenant, session) pairs), sent on the application role\'s own connections (Database.appReads) rather than in a transaction',
  'sessions.readThrottles': 'global table (keyed by hash)',
  'sessions.reserveAttempts': 'global table (keyed by hash)',
  'sessions.claimFirstRefusal': 'global table (keyed by hash)',
  'sessions.settleAttempts': 'global table (keyed by hash)',
  'sessions.rewriteThrottle': 'global table (keyed by hash)',
  'keys.publishedSigningKey': 'global table',
  'organizations.insertOrganization': 'insert for the given account',
  'tenants.insertTenant': 'insert',
  'tenants.insertAccount': 'insert for the given tenant',
  'tenants.countAllTenants': 'bootstrap check: every tenant',
  'domains.insertDomain': 'insert for the given tenant',
  'domains.verifiedDomainOwner': 'global by design: which tenant holds a domain verified (SQL function tessera_verified_domain_owner)',
  'domains.dueDomains': 're-check job: every tenant',
  'audit.outboxBacklog': 'metrics: the webhook backlog of every tenant (operator work, as the owner)',
  'applications.insertApplication': 'insert for the given tenant',
  'backchannel.enqueue': 'insert for the given tenant',
  'backchannel.claimDue': 'delivery job: every tenant (leases due entries under an advisory lock, like audit.claimOutbox)',
  'artifacts.upsertArtifact': 'global table: oidc-provider looks artefacts up by (hashed) id before any tenant is known (migration 0026)',
  'artifacts.findArtifact': 'global table (oidc-provider artefacts, by hashed id)',
  'artifacts.findArtifactByUid': 'global table (oidc-provider artefacts, by hashed uid)',
  'artifacts.consumeArtifact': 'global table (oidc-provider artefacts, by hashed id)',
  'artifacts.destroyArtifact': 'global table (oidc-provider artefacts, by hashed id)',
  'artifacts.destroyByGrantId': 'global table (oidc-provider artefacts of one grant)',
  'artifacts.purgeExpired': 'expiry: every artefact',
};

const STORES = { domains, audit, users, loginUsers, directory, keys, mfa, groups, rbac, apiKeys, applications, artifacts, backchannel, sessions, organizations, accounts, tenants, sso, scim };

async function stampOf(tx: Tx, tenantId: string, userId: string): Promise<string> {
  const row = await tx.selectFrom('users').select('security_stamp').where('tenant_id', '=', tenantId).where('id', '=', userId).executeTakeFirstOrThrow();
  return row.security_stamp;
}

async function usedTokenCount(tx: Tx, tenantId: string, jti: string): Promise<number> {
  const rows = await tx.selectFrom('used_tokens').select('jti').where('tenant_id', '=', tenantId).where('jti', '=', jti).execute();
  return rows.length;
}

/** Rows of a tenant-owned table for one tenant, counted with the filter written out here. */
async function ownCount(tx: Tx, table: 'audit_events', tenantId: string): Promise<number> {
  const row = await tx.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('the tenant-filter suite covers every store function', () => {
  it('each exported store function has a case or a stated reason', () => {
    const covered = new Set([...READS, ...WRITES, ...COUNTS].map(([name]) => name.split(' ')[0]!));
    const missing = Object.entries(STORES)
      .flatMap(([store, module]) => Object.entries(module).filter(([, v]) => typeof v === 'function').map(([fn]) => `${store}.${fn}`))
      .filter((name) => !covered.has(name) && !(name in NOT_TENANT_FILTERED));
    expect(missing).toEqual([]);
  });
});

describe.each(engines())('every store filters by tenant on its own, with row-level security bypassed [%s]', (engine) => {
  let t: TestApp;
  let a: Ctx;
  let b: Ctx;
  let w: World;

  beforeAll(async () => {
    t = await startTestApp(engine);
    const adminA = await loginAsAdmin(t, { tenantName: 'Tenant A' });
    const adminB = await loginAsAdmin(t, { tenantName: 'Tenant B' });
    a = { tenant: adminA.tenantId, account: adminA.accountId };
    b = { tenant: adminB.tenantId, account: adminB.accountId };
    const db = t.database.db;
    const group = newId();
    const org = newId();
    const customRole = newId();
    const lapsed = newId();
    const domain = newId();
    // Tenant A gets a row in every tenant-owned table, through its own stores.
    await db.tenantWork(a.tenant, async (tx) => {
      await groups.insertGroup(tx, a.tenant, { id: group, name: 'Group A', description: '', now });
      await groups.addMember(tx, a.tenant, group, adminA.userId, now);
      await organizations.insertOrganization(tx, a.account, { id: org, name: 'Org A', createdAt: now });
      await rbac.insertRole(tx, a.account, { id: customRole, name: 'Custom A', description: '', systemKey: null, permissions: ['audit.view'], createdAt: now });
      await mfa.savePendingFactor(tx, a.tenant, adminA.userId, Buffer.from('secret-a'), now);
      await mfa.replaceRecoveryCodes(tx, a.tenant, adminA.userId, [Buffer.from('code-a')], now);
      await tenants.writeSecuritySettings(tx, a.tenant, { marker: 'marker-a' }, now);
      await audit.upsertSettings(tx, a.tenant, { retentionDays: 3650, webhook: { url: 'https://siem-a.example/hook', secretEnc: Buffer.from('x') } }, now);
      await domains.insertDomain(tx, a.tenant, { id: domain, domain: 'tenant-a.example', token: 'token-a-0123456789', createdBy: adminA.userId, now, nextCheckAt: now });
    });
    const facts = await db.ownerWork(async (tx) => {
      const session = await tx.selectFrom('sessions').select('id').where('tenant_id', '=', a.tenant).executeTakeFirstOrThrow();
      const refresh = await tx.selectFrom('refresh_tokens').select('token_hash').where('tenant_id', '=', a.tenant).executeTakeFirstOrThrow();
      const role = await tx.selectFrom('roles').select('id').where('account_id', '=', a.account).where('system_key', '=', 'account_admin').executeTakeFirstOrThrow();
      const assignment = await tx.selectFrom('role_assignments').select('id').where('tenant_id', '=', a.tenant).executeTakeFirstOrThrow();
      const head = await tx.selectFrom('audit_heads').select(['last_seq', 'last_hash']).where('tenant_id', '=', a.tenant).executeTakeFirstOrThrow();
      const checkpointHash = 'c'.repeat(64);
      await tx.insertInto('audit_checkpoints').values({ tenant_id: a.tenant, seq: 0, hash: checkpointHash, occurred_at: now, removed: 0, created_at: now }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: a.tenant, id: lapsed, account_id: a.account, role_id: (await tx.selectFrom('roles').select('id').where('account_id', '=', a.account).where('system_key', '=', 'account_admin').executeTakeFirstOrThrow()).id, user_id: adminA.userId, expires_at: new Date('2020-01-01T00:00:00Z') }).execute();
      await tx.insertInto('permission_catalog').values({ account_id: a.account, key: 'hosts.view', category: 'Hosts', description: '', created_at: now }).execute();
      await tx.insertInto('role_templates').values({ account_id: a.account, key: 'viewer_a', name: 'Viewer', description: '', permissions: ['hosts.view'] }).execute();
      await tx.insertInto('permission_catalog_versions').values({ account_id: a.account, version: 7, updated_at: now }).execute();
      await tx.updateTable('roles').set({ organization_id: org }).where('account_id', '=', a.account).where('id', '=', customRole).execute();
      // One event queued for A's webhook, so the outbox has a row to protect.
      await tx.insertInto('audit_outbox').values({ tenant_id: a.tenant, seq: head.last_seq, next_attempt_at: now, created_at: now }).execute();
      // A role held by group A, so the group's grants have a row to protect.
      const groupRole = newId();
      await tx.insertInto('roles').values({ account_id: a.account, id: groupRole, name: 'Group role A', description: '', permissions: ['audit.view'], created_at: now, updated_at: now }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: a.tenant, id: newId(), account_id: a.account, role_id: groupRole, group_id: group }).execute();
      // A spent token id of tenant A's that has expired: only A's own spends may purge it.
      const expiredJti = newId();
      await tx.insertInto('used_tokens').values({ tenant_id: a.tenant, jti: expiredJti, expires_at: new Date('2020-01-01T00:00:00Z') }).execute();
      const apiKey = newId();
      await tx.insertInto('api_keys').values({ tenant_id: a.tenant, id: apiKey, account_id: a.account, name: 'Key A', key_hash: API_KEY_HASH, permissions: ['idp.view'], created_by: adminA.userId, created_at: now }).execute();
      const application = newId();
      const clientId = `tc1.${a.tenant}.${application}`;
      await applications.insertApplication(tx, a.tenant, { id: application, account_id: a.account, client_id: clientId, name: 'App A', type: 'web', first_party: true, redirect_uris: ['https://a.example/cb'], post_logout_redirect_uris: [], allowed_origins: [], token_endpoint_auth_method: 'client_secret_basic', secret_hash: API_KEY_HASH, jwks: null, scopes: ['openid'], access_token_ttl_seconds: 300, refresh_token_ttl_seconds: 3600, created_by: null, created_at: now, updated_at: now });
      // A's application receives back-channel logouts and holds a grant of A's session (enqueueForSessions has work).
      await tx.updateTable('applications').set({ backchannel_logout_uri: 'https://a.example/bcl' }).where('tenant_id', '=', a.tenant).where('id', '=', application).execute();
      await tx.insertInto('oidc_provider_artifacts').values({ model: 'Grant', id_hash: Buffer.alloc(32, 3), tenant_id: a.tenant, grant_id: null, uid_hash: null, payload: JSON.stringify({ accountId: `${a.tenant}.${session.id}`, clientId }), expires_at: new Date('2030-01-01T00:00:00Z') }).execute();
      // A pending back-channel logout of A's application, so the outbox has a row to protect.
      const backchannelDelivery = newId();
      await tx.insertInto('backchannel_logout_outbox').values({ tenant_id: a.tenant, id: backchannelDelivery, application_id: application, client_id: clientId, user_id: adminA.userId, session_id: newId(), created_at: now, next_attempt_at: now }).execute();
      const ssoConnection = newId();
      await sso.insertConnection(tx, a.tenant, { ...SSO_VALUES, id: ssoConnection, type: 'oidc', secret: Buffer.from('secret-a'), actorId: null, now });
      await tx.insertInto('sso_identities').values({ tenant_id: a.tenant, connection_id: ssoConnection, subject: 'subject-a', user_id: adminA.userId, created_at: now, last_login_at: null }).execute();
      await tx.insertInto('sso_logins').values({ tenant_id: a.tenant, id: '00000000-0000-4000-8000-00000000a021', connection_id: ssoConnection, user_id: adminA.userId, name_id: 'subject-a', name_id_format: null, session_index: '_s1', created_at: now }).execute();
      // A test outcome still live and one past its time, and an assignment the connection manages.
      const ssoTest = newId();
      const ssoTestExpired = newId();
      await sso.insertTest(tx, a.tenant, { id: ssoTest, connectionId: ssoConnection, startedBy: adminA.userId, now, expiresAt: new Date('2030-01-01T00:00:00Z') });
      await sso.insertTest(tx, a.tenant, { id: ssoTestExpired, connectionId: ssoConnection, startedBy: adminA.userId, now: new Date('2020-01-01T00:00:00Z'), expiresAt: new Date('2020-01-01T00:30:00Z') });
      const managedAssignment = newId();
      const managedRole = newId();
      await tx.insertInto('roles').values({ account_id: a.account, id: managedRole, name: 'Managed role A', description: '', permissions: ['audit.view'], created_at: now, updated_at: now }).execute();
      await rbac.insertAssignment(tx, a.tenant, { id: managedAssignment, accountId: a.account, roleId: managedRole, userId: adminA.userId, expiresAt: null, createdAt: now, managedBy: `sso:${ssoConnection}` });
      // Require SSO on A's verified domain, served by an enabled connection, with A's admin as break-glass user.
      await tx.updateTable('domains').set({ status: 'verified', verified_at: now, verified_by: 'operator', require_sso: true }).where('tenant_id', '=', a.tenant).where('id', '=', domain).execute();
      await sso.insertConnection(tx, a.tenant, { ...SSO_VALUES, name: 'SSO A enabled', enabled: true, domains: ['tenant-a.example'], id: newId(), type: 'oidc', secret: null, actorId: null, now });
      await tx.insertInto('sso_break_glass_users').values({ tenant_id: a.tenant, user_id: adminA.userId, created_by: null, created_at: now }).execute();
      await tx.insertInto('sso_settings').values({ tenant_id: a.tenant, allowed_return_origins: ['https://app-a.example'], updated_by: null, updated_at: now }).execute();
      const scimDirectory = newId();
      await scim.insertDirectory(tx, a.tenant, { id: scimDirectory, name: 'SCIM A', ssoConnectionId: ssoConnection, actorId: null, now });
      const scimToken = newId();
      await scim.insertToken(tx, a.tenant, { id: scimToken, directoryId: scimDirectory, hash: SCIM_TOKEN_HASH, actorId: null, now });
      await scim.insertScimUser(tx, a.tenant, scimDirectory, adminA.userId, SCIM_VALUES, now);
      // Group A is the directory's SCIM group and its everyone group, mapped to a role it holds (managed by the directory).
      await scim.insertScimGroup(tx, a.tenant, scimDirectory, group, { displayName: 'SCIM Group A', externalId: 'group-a', resource: {} }, now);
      await scim.replaceRoleMappings(tx, a.tenant, scimDirectory, [{ id: newId(), groupName: 'SCIM Group A', roleId: groupRole }], null, now);
      await scim.setEveryoneGroup(tx, a.tenant, scimDirectory, group);
      await rbac.insertAssignment(tx, a.tenant, { id: newId(), accountId: a.account, roleId: groupRole, groupId: group, expiresAt: null, createdAt: now, managedBy: `scim:${scimDirectory}` });
      const stamp = await stampOf(tx, a.tenant, adminA.userId);
      return { apiKey, application, clientId, backchannelDelivery, grantAccount: `${a.tenant}.${session.id}`, ssoConnection, scimDirectory, scimToken, ssoTest, ssoTestExpired, managedAssignment, stamp, expiredJti, session: session.id, refreshHash: Buffer.from(refresh.token_hash), role: role.id, assignment: assignment.id, seq: Number(head.last_seq), headHash: head.last_hash, checkpointHash };
    });
    w = { tenant: a.tenant, user: adminA.userId, email: adminA.email, group, org, customRole, lapsed, domain, assignmentAccount: a.account, ...facts };
  });
  afterAll(() => t?.close());

  class Rollback extends Error {}
  /** As the owner (row-level security does not apply), inside a transaction that is rolled back. */
  async function asOwner(fn: (tx: Tx) => Promise<void>): Promise<void> {
    const row = await t.database.db.ownerWork((tx) => sql<{ bypass: boolean }>`select rolsuper or rolbypassrls as bypass from pg_roles where rolname = current_user`.execute(tx));
    expect(row.rows[0]?.bypass, 'the owner connection must bypass RLS for this suite to mean anything').toBe(true);
    await t.database.db
      .ownerWork(async (tx) => {
        await fn(tx);
        throw new Rollback();
      })
      .catch((error: unknown) => {
        if (!(error instanceof Rollback)) throw error;
      });
  }

  it.each(READS)('%s: tenant B is given none of tenant A’s rows (and tenant A is)', async (_name, run, sees) => {
    await asOwner(async (tx) => {
      expect(sees(await run(tx, a, w), w), 'control: the call for tenant A finds its row').toBe(true);
      expect(sees(await run(tx, b, w), w), 'the call for tenant B found tenant A’s row').toBe(false);
    });
  });

  it.each(COUNTS)('%s: counts only the tenant’s own rows', async (_name, run, own) => {
    await asOwner(async (tx) => {
      for (const c of [a, b]) expect(await run(tx, c)).toBe(await own(tx, c));
    });
  });

  it.each(WRITES)('%s: tenant B changes none of tenant A’s rows', async (_name, run, intact) => {
    await asOwner(async (tx) => {
      expect(await intact(tx, a, w), 'control: tenant A’s row is intact before').toBe(true);
      await run(tx, b, w);
      expect(await intact(tx, a, w)).toBe(true);
      await run(tx, a, w);
      expect(await intact(tx, a, w), 'control: the same write for tenant A does change the row').toBe(false);
    });
  });
});
