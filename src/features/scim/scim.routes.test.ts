import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondInstance, startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode, requestJson } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { setSecurityPolicy } from '../../../test/support/sessions-http.js';
import { newId } from '../../kernel/ids.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PASSWORD = 'quartz meadow signal 42';

interface ScimUser {
  id: string;
  userName: string;
  active: boolean;
  emails?: { value: string; type?: string; primary?: boolean }[];
  name?: Record<string, string>;
  meta: { resourceType: string; created: string; lastModified: string; location: string; version: string };
  [key: string]: unknown;
}
interface ListResponse<T = ScimUser> {
  schemas: string[];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}
interface ScimErrorBody {
  schemas: string[];
  status: string;
  scimType?: string;
  detail: string;
}

/** Okta's create body (developer.okta.com "SCIM 2.0 test cases"): userName an email, name, emails, active. */
const oktaUser = (userName: string) => ({
  schemas: [CORE],
  userName,
  name: { givenName: 'Test', familyName: 'User' },
  emails: [{ primary: true, value: userName, type: 'work' }],
  displayName: 'Test User',
  locale: 'en-US',
  externalId: `00u${newId().slice(-12)}`,
  groups: [],
  password: '1mz050nq',
  active: true,
});

describe.each(engines())('SCIM 2.0 /Users over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let other: LoggedIn;
  let dirA: { id: string; baseUrl: string };
  let dirB: { id: string; baseUrl: string };
  let tokenA: string;
  let tokenB: string;
  let tokenOther: string;
  let dirOther: { id: string };
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  /** A SCIM request to a directory, as an IdP sends it: bearer token, `application/scim+json`. */
  function scim<T = ScimUser>(token: string | null, directoryId: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    return requestJson<T>(t.url, method, `/scim/v2/${directoryId}${path}`, {
      ...(token ? { token } : {}),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }), ...headers },
      ...(body === undefined ? {} : { body }),
    }).then((r) => r);
  }

  async function directory(who: LoggedIn, name: string): Promise<{ id: string; baseUrl: string; token: string }> {
    const d = await api<{ id: string; baseUrl: string }>(who, 'POST', '/api/v1/scim/directories', { name });
    expect(d.status, JSON.stringify(d.body)).toBe(201);
    const tok = await api<{ token: string }>(who, 'POST', `/api/v1/scim/directories/${d.body.id}/tokens`);
    expect(tok.status, JSON.stringify(tok.body)).toBe(201);
    return { ...d.body, token: tok.body.token };
  }

  async function createUser(token: string, dirId: string, body: unknown): Promise<ScimUser> {
    const res = await scim(token, dirId, 'POST', '/Users', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  const patch = (token: string, dirId: string, id: string, operations: unknown[], headers: Record<string, string> = {}) =>
    scim(token, dirId, 'PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: operations }, headers);

  async function auditOf(tenantId: string, targetId: string) {
    return t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_type', 'actor_id']).where('tenant_id', '=', tenantId).where('target_id', '=', targetId).orderBy('seq').execute());
  }

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    other = await loginAsAdmin(t, { tenantName: 'Globex' });
    const a = await directory(admin, 'Okta');
    const b = await directory(admin, 'Entra ID');
    const o = await directory(other, 'Globex Okta');
    dirA = a;
    dirB = b;
    dirOther = o;
    tokenA = a.token;
    tokenB = b.token;
    tokenOther = o.token;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('replays the Okta SCIM 2.0 test sequence: empty filtered list, create, get, list, deactivate, replace', async () => {
    const userName = `okta-${newId().slice(-8)}@acme.test`;
    const none = await scim<ListResponse>(tokenA, dirA.id, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}&startIndex=1&count=100`);
    expect(none.status).toBe(200);
    expect(none.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(none.body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });

    const created = await scim(tokenA, dirA.id, 'POST', '/Users', oktaUser(userName));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const user = created.body;
    expect(user).toMatchObject({ schemas: [CORE], userName, active: true, name: { givenName: 'Test', familyName: 'User' }, meta: { resourceType: 'User', version: 'W/"1"' } });
    expect(user).not.toHaveProperty('password');
    expect(user).not.toHaveProperty('groups');
    expect(user.meta.location).toBe(`${dirA.baseUrl}/Users/${user.id}`);
    expect(created.headers.get('location')).toBe(user.meta.location);
    expect(created.headers.get('etag')).toBe('W/"1"');

    const got = await scim(tokenA, dirA.id, 'GET', `/Users/${user.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(user);
    expect(got.headers.get('etag')).toBe(user.meta.version);

    // The user is an identity user of the tenant, with the IdP's email and name.
    const asAdmin = await api<{ email: string; name: string; active: boolean }>(admin, 'GET', `/api/v1/users/${user.id}`);
    expect(asAdmin.body).toMatchObject({ email: userName, name: 'Test User', active: true });

    const found = await scim<ListResponse>(tokenA, dirA.id, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName.toUpperCase()}"`)}&startIndex=1&count=100`);
    expect(found.body.totalResults).toBe(1);
    expect(found.body.Resources[0]!.id).toBe(user.id);

    const off = await patch(tokenA, dirA.id, user.id, [{ op: 'replace', value: { active: false } }]);
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body.active).toBe(false);
    expect((await api<{ active: boolean }>(admin, 'GET', `/api/v1/users/${user.id}`)).body.active).toBe(false);

    const put = await scim(tokenA, dirA.id, 'PUT', `/Users/${user.id}`, { ...oktaUser(userName), id: user.id, name: { givenName: 'Renamed', familyName: 'User' }, displayName: undefined, active: true });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toMatchObject({ active: true, name: { givenName: 'Renamed', familyName: 'User' } });
    expect(put.body).not.toHaveProperty('displayName');
    expect((await api<{ name: string; active: boolean }>(admin, 'GET', `/api/v1/users/${user.id}`)).body).toMatchObject({ name: 'Renamed User', active: true });

    const actions = await auditOf(admin.tenantId, user.id);
    expect(actions.map((a) => a.action)).toEqual(['scim.user.created', 'scim.user.updated', 'scim.user.deactivated', 'scim.user.updated', 'scim.user.reactivated']);
    expect(actions.every((a) => a.actor_type === 'scim_directory' && a.actor_id === dirA.id)).toBe(true);
  });

  it('accepts the request shapes of the Entra ID SCIM validator: capitalised ops, "False" strings, URN-keyed path-less values', async () => {
    const userName = `entra-${newId().slice(-8)}@acme.test`;
    const user = await createUser(tokenB, dirB.id, {
      schemas: [CORE, ENTERPRISE],
      externalId: newId(),
      userName,
      active: true,
      displayName: 'Entra User',
      emails: [{ primary: true, type: 'work', value: userName }],
      name: { formatted: 'Entra User', familyName: 'User', givenName: 'Entra' },
      title: 'Engineer',
      [ENTERPRISE]: { employeeNumber: '42', department: 'Research', manager: { value: 'mgr-1' } },
    });
    expect(user.schemas).toEqual([CORE, ENTERPRISE]);
    expect(user[ENTERPRISE]).toEqual({ employeeNumber: '42', department: 'Research', manager: { value: 'mgr-1' } });

    const changed = await patch(tokenB, dirB.id, user.id, [
      { op: 'Replace', path: 'displayName', value: 'Entra Renamed' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: `renamed-${userName}` },
      { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
      { op: 'Replace', path: 'name.givenName', value: 'Renamed' },
      { op: 'Add', value: { [`${ENTERPRISE}:department`]: 'Sales', 'name.familyName': 'Person', title: 'Manager' } },
      { op: 'Replace', path: `${ENTERPRISE}:manager`, value: 'mgr-2' },
      { op: 'Remove', path: `${ENTERPRISE}:employeeNumber` },
    ]);
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({
      displayName: 'Entra Renamed',
      title: 'Manager',
      name: { givenName: 'Renamed', familyName: 'Person', formatted: 'Entra User' },
      emails: [{ primary: true, type: 'work', value: `renamed-${userName}` }],
      phoneNumbers: [{ type: 'mobile', value: '+1 555 0100' }],
      [ENTERPRISE]: { department: 'Sales', manager: { value: 'mgr-2' } },
    });
    // The primary email is the sign-in email.
    expect((await api<{ email: string }>(admin, 'GET', `/api/v1/users/${user.id}`)).body.email).toBe(`renamed-${userName}`);

    const off = await patch(tokenB, dirB.id, user.id, [{ op: 'Replace', path: 'active', value: 'False' }]);
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body.active).toBe(false);
    const on = await patch(tokenB, dirB.id, user.id, [{ op: 'replace', value: { active: 'True' } }]);
    expect(on.body.active).toBe(true);

    const byDepartment = await scim<ListResponse>(tokenB, dirB.id, 'GET', `/Users?filter=${encodeURIComponent(`${ENTERPRISE}:department eq "sales" and emails[type eq "work" and value co "renamed-"]`)}`);
    expect(byDepartment.body.Resources.map((r) => r.id)).toEqual([user.id]);
  });

  it('filters, sorts, pages and projects; value paths, not, grouping, pr, case-insensitive names and operators', async () => {
    const tag = newId().slice(-6);
    const names = ['alice', 'bob', 'carol'].map((n) => `${n}-${tag}@acme.test`);
    const users = [];
    for (const [i, n] of names.entries()) {
      users.push(await createUser(tokenA, dirA.id, { userName: n, title: i === 1 ? undefined : `T${i}`, emails: [{ value: n, type: i === 2 ? 'home' : 'work' }] }));
    }
    const q = async (filter: string, extra = '') => {
      const r = await scim<ListResponse>(tokenA, dirA.id, 'GET', `/Users?filter=${encodeURIComponent(filter)}${extra}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    };
    const ids = (l: ListResponse) => l.Resources.map((r) => r.userName);
    expect(ids(await q(`USERNAME Sw "ALICE-${tag}"`))).toEqual([names[0]]);
    expect(ids(await q(`userName ew "-${tag}@acme.test" and not (title pr)`))).toEqual([names[1]]);
    expect(ids(await q(`userName co "${tag}" and (emails[type eq "home"] or title eq "t0")`, '&sortBy=userName'))).toEqual([names[0], names[2]]);
    expect(ids(await q(`userName co "${tag}"`, '&sortBy=userName&sortOrder=descending&startIndex=2&count=1'))).toEqual([names[1]]);
    const page = await q(`userName co "${tag}"`, '&count=0');
    expect(page).toMatchObject({ totalResults: 3, itemsPerPage: 0, Resources: [] });
    const projected = await q(`userName eq "${names[0]}"`, '&attributes=userName,emails.value');
    expect(projected.Resources[0]).toEqual({ schemas: [CORE], id: users[0]!.id, userName: names[0], emails: [{ value: names[0] }] });
    const excluded = await q(`userName eq "${names[0]}"`, '&excludedAttributes=emails,meta');
    expect(excluded.Resources[0]).not.toHaveProperty('emails');
    expect(excluded.Resources[0]).not.toHaveProperty('meta');
    expect(excluded.Resources[0]).toHaveProperty('userName');
    // LIKE wildcards in a value are literal.
    expect((await q(`userName co "%"`)).totalResults).toBe(0);
    expect((await q(`userName sw "_lice-${tag}"`)).totalResults).toBe(0);
    // An id that is not a uuid is just not found, never an SQL error.
    expect((await q('id eq "not-a-uuid"')).totalResults).toBe(0);
    expect(ids(await q(`id eq "${users[1]!.id}"`))).toEqual([names[1]]);
    expect((await q(`meta.created ge "2000-01-01T00:00:00Z" and userName co "${tag}"`)).totalResults).toBe(3);
  });

  it('answers errors in the SCIM error schema with the scimType RFC 7644 §3.12 defines', async () => {
    const userName = `err-${newId().slice(-8)}@acme.test`;
    const user = await createUser(tokenA, dirA.id, oktaUser(userName));
    const expectError = (res: { status: number; body: unknown; headers: Headers }, status: number, scimType?: string) => {
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      const body = res.body as ScimErrorBody;
      expect(body.schemas).toEqual([ERROR]);
      expect(body.status).toBe(String(status));
      if (scimType) expect(body.scimType).toBe(scimType);
      else expect(body).not.toHaveProperty('scimType');
      expect(typeof body.detail).toBe('string');
    };
    expectError(await scim(tokenA, dirA.id, 'POST', '/Users', { ...oktaUser(userName.toUpperCase()) }), 409, 'uniqueness');
    // userName alone, case-insensitively (RFC 7643 §4.1.1), with an email nobody has.
    expectError(await scim(tokenA, dirA.id, 'POST', '/Users', { ...oktaUser(userName.toUpperCase()), emails: [{ value: `other-${userName}`, primary: true }] }), 409, 'uniqueness');
    expectError(await patch(tokenA, dirA.id, (await createUser(tokenA, dirA.id, oktaUser(`second-${userName}`))).id, [{ op: 'replace', path: 'userName', value: userName.toUpperCase() }]), 409, 'uniqueness');
    expectError(await scim(tokenA, dirA.id, 'GET', `/Users?filter=${encodeURIComponent('userName eq')}`), 400, 'invalidFilter');
    expectError(await scim(tokenA, dirA.id, 'GET', `/Users?filter=${encodeURIComponent('shoeSize gt "4"')}`), 400, 'invalidFilter');
    expectError(await scim(tokenA, dirA.id, 'GET', `/Users?filter=${encodeURIComponent('active gt true')}`), 400, 'invalidFilter');
    expectError(await scim(tokenA, dirA.id, 'GET', `/Users?filter=${encodeURIComponent('meta.created gt "yesterday"')}`), 400, 'invalidFilter');
    expectError(await patch(tokenA, dirA.id, user.id, [{ op: 'replace', path: 'shoeSize', value: 4 }]), 400, 'invalidPath');
    expectError(await patch(tokenA, dirA.id, user.id, [{ op: 'replace', path: 'emails[type eq "fax"].value', value: 'x@acme.test' }]), 400, 'noTarget');
    expectError(await patch(tokenA, dirA.id, user.id, [{ op: 'remove' }]), 400, 'noTarget');
    expectError(await patch(tokenA, dirA.id, user.id, [{ op: 'replace', path: 'id', value: newId() }]), 400, 'mutability');
    expectError(await patch(tokenA, dirA.id, user.id, [{ op: 'replace', path: 'active', value: 'maybe' }]), 400, 'invalidValue');
    expectError(await patch(tokenA, dirA.id, user.id, [{ op: 'jump', path: 'active', value: true }]), 400, 'invalidSyntax');
    expectError(await scim(tokenA, dirA.id, 'POST', '/Users', { name: { givenName: 'No' } }), 400, 'invalidValue');
    expectError(await scim(tokenA, dirA.id, 'POST', '/Users', { userName: 'not-an-email' }), 400, 'invalidValue');
    const withCharset = await fetch(`${t.url}/scim/v2/${dirA.id}/Users`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/scim+json; charset=utf-8' }, body: JSON.stringify(oktaUser(`charset-${userName}`)) });
    expect(withCharset.status).toBe(201);
    const plainJson = await fetch(`${t.url}/scim/v2/${dirA.id}/Users`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' }, body: JSON.stringify(oktaUser(`json-${userName}`)) });
    expect(plainJson.status).toBe(201);
    expect(plainJson.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    const textBody = await fetch(`${t.url}/scim/v2/${dirA.id}/Users`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'text/plain' }, body: 'x' });
    // A body that is not JSON is not a SCIM message.
    expectError({ status: textBody.status, body: await textBody.json(), headers: textBody.headers }, 400, 'invalidSyntax');
    const malformed = await fetch(`${t.url}/scim/v2/${dirA.id}/Users`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/scim+json' }, body: '{"userName":' });
    expectError({ status: malformed.status, body: await malformed.json(), headers: malformed.headers }, 400, 'invalidSyntax');
    expectError(await scim(tokenA, dirA.id, 'GET', `/Users/${newId()}`), 404);
    expectError(await scim(tokenA, dirA.id, 'GET', '/Nothing'), 404);
    expectError(await scim(null, dirA.id, 'GET', '/Users'), 401);
    // The rest of the API keeps its own error shape.
    expect(errorCode(await api(admin, 'GET', '/api/v1/scim/directories/00000000-0000-4000-8000-000000000000'))).toBe('scim.directory_not_found');
  });

  it('two concurrent creations of one user: one 201, one 409 uniqueness, never a 5xx nor two users', async () => {
    // Several rounds: on PostgreSQL the two requests race past the userName check in some of them.
    for (let round = 0; round < 6; round++) {
      const userName = `race-${newId().slice(-8)}@acme.test`;
      const answers = await Promise.all([scim(tokenA, dirA.id, 'POST', '/Users', oktaUser(userName)), scim(tokenA, dirA.id, 'POST', '/Users', oktaUser(userName.toUpperCase()))]);
      expect(answers.map((a) => a.status).sort(), JSON.stringify(answers.map((a) => a.body))).toEqual([201, 409]);
      expect((answers.find((a) => a.status === 409)!.body as unknown as ScimErrorBody).scimType).toBe('uniqueness');
      const users = await t.app.db.ownerWork((tx) => tx.selectFrom('users').select('id').where('tenant_id', '=', admin.tenantId).where((eb) => eb(eb.fn('lower', ['email']), '=', userName)).execute());
      expect(users).toHaveLength(1);
    }
  });

  it('honours If-Match with weak ETags: a stale version is 412 and changes nothing', async () => {
    const user = await createUser(tokenA, dirA.id, oktaUser(`etag-${newId().slice(-8)}@acme.test`));
    const stale = await patch(tokenA, dirA.id, user.id, [{ op: 'replace', path: 'title', value: 'Stale' }], { 'if-match': 'W/"7"' });
    expect(stale.status).toBe(412);
    expect((stale.body as unknown as ScimErrorBody).status).toBe('412');
    const fresh = await patch(tokenA, dirA.id, user.id, [{ op: 'replace', path: 'title', value: 'Fresh' }], { 'if-match': user.meta.version });
    expect(fresh.status).toBe(200);
    expect(fresh.body.meta.version).toBe('W/"2"');
    expect(fresh.headers.get('etag')).toBe('W/"2"');
    expect((await scim(tokenA, dirA.id, 'PUT', `/Users/${user.id}`, oktaUser(user.userName), { 'if-match': user.meta.version })).status).toBe(412);
    expect((await scim(tokenA, dirA.id, 'DELETE', `/Users/${user.id}`, undefined, { 'if-match': user.meta.version })).status).toBe(412);
    expect((await scim(tokenA, dirA.id, 'GET', `/Users/${user.id}`)).body.title).toBe('Fresh');
  });

  it('isolates directories: a token works only on its own directory URL; another directory sees none of its users', async () => {
    const user = await createUser(tokenA, dirA.id, oktaUser(`iso-${newId().slice(-8)}@acme.test`));
    // A's token on B's URL (same tenant), on the other tenant's URL, and the other tenant's token on A's URL.
    expect((await scim(tokenA, dirB.id, 'GET', '/Users')).status).toBe(401);
    expect((await scim(tokenA, dirOther.id, 'GET', '/Users')).status).toBe(401);
    expect((await scim(tokenOther, dirA.id, 'GET', `/Users/${user.id}`)).status).toBe(401);
    expect((await scim(tokenA, 'not-a-uuid', 'GET', '/Users')).status).toBe(401);
    // The token is checked in the request's own unit of work: a write with another directory's token is refused
    // and leaves nothing behind; a malformed body is still 401 first (RFC 6750 §3.1); the discovery endpoints too.
    const intruder = `intruder-${newId().slice(-8)}@acme.test`;
    expect((await scim(tokenA, dirB.id, 'POST', '/Users', oktaUser(intruder))).status).toBe(401);
    expect((await scim<ListResponse>(tokenB, dirB.id, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${intruder}"`)}`)).body.totalResults).toBe(0);
    expect((await scim(tokenA, dirB.id, 'POST', '/Users', { schemas: [CORE], userName: '' })).status).toBe(401);
    expect((await scim(tokenA, dirB.id, 'GET', '/Users?filter=garbage(')).status).toBe(401);
    expect((await scim(tokenA, dirB.id, 'GET', '/ServiceProviderConfig')).status).toBe(401);
    expect((await scim(tokenA, dirB.id, 'GET', '/Schemas')).status).toBe(401);
    // B's own token does not reach A's users.
    expect((await scim(tokenB, dirB.id, 'GET', `/Users/${user.id}`)).status).toBe(404);
    expect((await patch(tokenB, dirB.id, user.id, [{ op: 'replace', path: 'active', value: false }])).status).toBe(404);
    expect((await scim(tokenB, dirB.id, 'DELETE', `/Users/${user.id}`)).status).toBe(404);
    const listed = await scim<ListResponse>(tokenB, dirB.id, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${user.userName}"`)}`);
    expect(listed.body.totalResults).toBe(0);
    const otherList = await scim<ListResponse>(tokenOther, dirOther.id, 'GET', '/Users');
    expect(otherList.body.totalResults).toBe(0);
    // The same userName in another directory of the tenant is another resource — but the email is one user's.
    expect((await scim(tokenB, dirB.id, 'POST', '/Users', oktaUser(user.userName))).status).toBe(409);
    expect((await api<{ active: boolean }>(admin, 'GET', `/api/v1/users/${user.id}`)).body.active).toBe(true);
  });

  it('rotates tokens: two live at most, shown once, last use recorded, a revoked token stops working', async () => {
    const d = await directory(admin, `Rotation ${newId().slice(-6)}`);
    expect((await scim(d.token, d.id, 'GET', '/ServiceProviderConfig')).status).toBe(200);
    const second = await api<{ id: string; token: string }>(admin, 'POST', `/api/v1/scim/directories/${d.id}/tokens`);
    expect(second.status).toBe(201);
    expect(second.headers.get('cache-control')).toBe('no-store');
    const third = await api(admin, 'POST', `/api/v1/scim/directories/${d.id}/tokens`);
    expect(third.status).toBe(409);
    expect(errorCode(third)).toBe('scim.too_many_tokens');
    const list = await api<{ items: { id: string; lastUsedAt: string | null; revokedAt: string | null }[] }>(admin, 'GET', `/api/v1/scim/directories/${d.id}/tokens`);
    expect(JSON.stringify(list.body)).not.toContain('tsd1.');
    expect(list.body.items).toHaveLength(2);
    const first = list.body.items.find((i) => i.id !== second.body.id)!;
    expect(first.lastUsedAt).not.toBeNull();
    expect((await api(admin, 'DELETE', `/api/v1/scim/directories/${d.id}/tokens/${first.id}`)).status).toBe(204);
    expect((await scim(d.token, d.id, 'GET', '/Users')).status).toBe(401);
    expect((await scim(second.body.token, d.id, 'GET', '/Users')).status).toBe(200);
    expect((await api(admin, 'POST', `/api/v1/scim/directories/${d.id}/tokens`)).status).toBe(201);
    const actions = (await auditOf(admin.tenantId, first.id)).map((a) => a.action);
    expect(actions).toEqual(['scim.token.created', 'scim.token.revoked']);
  });

  it('serves ServiceProviderConfig, ResourceTypes and Schemas', async () => {
    const spc = await scim<Record<string, unknown>>(tokenA, dirA.id, 'GET', '/ServiceProviderConfig');
    expect(spc.body).toMatchObject({ patch: { supported: true }, filter: { supported: true, maxResults: 200 }, etag: { supported: true }, bulk: { supported: false } });
    const types = await scim<ListResponse<{ id: string; schema: string }>>(tokenA, dirA.id, 'GET', '/ResourceTypes');
    expect(types.body.Resources.map((r) => r.id)).toEqual(['User', 'Group']);
    const schemas = await scim<ListResponse<{ id: string; attributes: { name: string; caseExact?: boolean }[] }>>(tokenA, dirA.id, 'GET', '/Schemas');
    expect(schemas.body.Resources.map((r) => r.id)).toEqual([CORE, ENTERPRISE, 'urn:ietf:params:scim:schemas:core:2.0:Group']);
    expect(schemas.body.Resources[0]!.attributes.find((a) => a.name === 'userName')).toMatchObject({ caseExact: false, uniqueness: 'server', required: true });
    expect((await scim(tokenA, dirA.id, 'GET', `/Schemas/${ENTERPRISE}`)).status).toBe(200);
  });

  it('manages directories with scim.manage and a tenant administrator; a linked SSO connection must be the tenant\'s', async () => {
    const bad = await api(admin, 'POST', '/api/v1/scim/directories', { name: 'Linked', ssoConnectionId: newId() });
    expect(errorCode(bad)).toBe('scim.sso_connection_not_found');
    expect(errorCode(await api(admin, 'POST', '/api/v1/scim/directories', { name: 'okta' }))).toBe('scim.name_taken');
    const renamed = await api<{ name: string }>(admin, 'PATCH', `/api/v1/scim/directories/${dirB.id}`, { name: 'Entra ID (prod)' });
    expect(renamed.body.name).toBe('Entra ID (prod)');
    expect((await api(other, 'GET', `/api/v1/scim/directories/${dirA.id}`)).status).toBe(404);
    const listed = await api<{ items: { id: string }[] }>(admin, 'GET', '/api/v1/scim/directories');
    expect(listed.body.items.map((d) => d.id)).toEqual(expect.arrayContaining([dirA.id, dirB.id]));
    expect(listed.body.items.map((d) => d.id)).not.toContain(dirOther.id);
    const plainEmail = `plain-${newId().slice(-8)}@acme.test`;
    const plain = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email: plainEmail, password: PASSWORD });
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `SCIM viewer ${newId().slice(-6)}`, permissions: ['scim.manage'] });
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: plain.body.id })).status).toBe(201);
    const manager = await loginOverHttp(t, { email: plainEmail, password: PASSWORD, tenantId: admin.tenantId });
    expect((await api(manager, 'GET', '/api/v1/scim/directories')).status).toBe(200);
    expect(errorCode(await api(manager, 'POST', '/api/v1/scim/directories', { name: 'Nope' }))).toBe('identity.tenant_admin_required');
  });

  it('links an existing user of the tenant by email, never a tenant administrator or an already provisioned user', async () => {
    expect(errorCode(await api(admin, 'GET', `/api/v1/users/${admin.userId}`))).toBeUndefined();
    const takeover = await scim(tokenA, dirA.id, 'POST', '/Users', oktaUser(admin.email));
    expect(takeover.status).toBe(409);
    expect((takeover.body as unknown as ScimErrorBody).scimType).toBe('uniqueness');
    const email = `linked-${newId().slice(-8)}@acme.test`;
    const existing = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD });
    const linked = await createUser(tokenA, dirA.id, oktaUser(email.toUpperCase()));
    expect(linked.id).toBe(existing.body.id);
    expect((await scim(tokenB, dirB.id, 'POST', '/Users', oktaUser(email))).status).toBe(409);
  });

  it('de-provisions on the next request on every instance: active false, DELETE, directory deletion; reactivation restores sign-in only', async () => {
    // Two instances share one database only on PostgreSQL: the embedded database is one process, whose session
    // state is served from memory (DESIGN §3), so on PGlite "the other instance" is the same one.
    const second = engine === 'postgres' ? await startSecondInstance(t) : { url: t.url, close: () => Promise.resolve() };
    try {
      const email = `deprov-${newId().slice(-8)}@acme.test`;
      const created = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD });
      const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Key maker ${newId().slice(-6)}`, permissions: ['security.manage', 'idp.view'] });
      expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: created.body.id })).status).toBe(201);
      const user = await createUser(tokenA, dirA.id, oktaUser(email));
      expect(user.id).toBe(created.body.id);

      const session = await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId });
      const key = await api<{ key: string }>(session, 'POST', '/api/v1/api-keys', { name: 'ci', permissions: ['idp.view'] });
      expect(key.status, JSON.stringify(key.body)).toBe(201);
      const onB = (path: string, token: string, method = 'GET', body?: unknown) => requestJson(second.url, method, path, { token, ...(body === undefined ? {} : { body }) });
      const keyCheck = async () => {
        const res = await onB('/api/v1/authz/check', key.body.key, 'POST', { user: created.body.id, permission: 'idp.view' });
        return { status: res.status, allowed: (res.body as { results?: { allowed: boolean }[] }).results?.[0]?.allowed };
      };
      expect((await onB('/api/v1/me', session.accessToken)).status).toBe(200);
      expect(await keyCheck()).toEqual({ status: 200, allowed: true });

      expect((await patch(tokenA, dirA.id, user.id, [{ op: 'replace', path: 'active', value: false }])).status).toBe(200);
      // Instance B refuses the session, its refresh token and the key's scopes on the very next request.
      expect((await onB('/api/v1/me', session.accessToken)).status).toBe(401);
      const refresh = await fetch(`${second.url}/auth/refresh`, { method: 'POST', headers: { cookie: session.refreshCookie } });
      expect(refresh.status).toBe(401);
      // The key's scopes are narrowed to what its (now inactive) creator holds: nothing.
      expect((await keyCheck()).allowed).not.toBe(true);
      const refused = await fetch(`${t.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD, tenantId: admin.tenantId }) });
      expect(refused.status).toBe(401);

      // Reactivation restores sign-in, not the old session.
      expect((await patch(tokenA, dirA.id, user.id, [{ op: 'replace', path: 'active', value: true }])).status).toBe(200);
      expect((await onB('/api/v1/me', session.accessToken)).status).toBe(401);
      const again = await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId });
      expect((await onB('/api/v1/me', again.accessToken)).status).toBe(200);

      // DELETE deactivates too, and the resource is gone.
      expect((await scim(tokenA, dirA.id, 'DELETE', `/Users/${user.id}`)).status).toBe(204);
      expect((await onB('/api/v1/me', again.accessToken)).status).toBe(401);
      expect((await scim(tokenA, dirA.id, 'GET', `/Users/${user.id}`)).status).toBe(404);
      expect((await api<{ active: boolean }>(admin, 'GET', `/api/v1/users/${user.id}`)).body.active).toBe(false);

      // Deleting a directory deactivates its users and ends their sessions.
      const d = await directory(admin, `Doomed ${newId().slice(-6)}`);
      const email2 = `doomed-${newId().slice(-8)}@acme.test`;
      const pre = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email: email2, password: PASSWORD });
      expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: pre.body.id })).status).toBe(201);
      await createUser(d.token, d.id, oktaUser(email2));
      const s2 = await loginOverHttp(t, { email: email2, password: PASSWORD, tenantId: admin.tenantId });
      expect((await onB('/api/v1/me', s2.accessToken)).status).toBe(200);
      expect((await api(admin, 'DELETE', `/api/v1/scim/directories/${d.id}`)).status).toBe(204);
      expect((await onB('/api/v1/me', s2.accessToken)).status).toBe(401);
      expect((await scim(d.token, d.id, 'GET', '/Users')).status).toBe(401);
      const actions = (await auditOf(admin.tenantId, pre.body.id)).map((a) => a.action);
      expect(actions).toContain('scim.user.deactivated');
    } finally {
      await second.close();
    }
  });

  it('keeps the tenant\'s email domain rule: a user or an email change outside the allowed domains is invalidValue', async () => {
    const restricted = await loginAsAdmin(t, { tenantName: 'Restricted' });
    const d = await directory(restricted, 'Okta');
    await setSecurityPolicy(t, restricted.tenantId, { restrictEmailDomains: true, allowedEmailDomains: ['allowed.test'] });
    const refused = await scim(d.token, d.id, 'POST', '/Users', oktaUser(`x-${newId().slice(-6)}@elsewhere.test`));
    expect(refused.status).toBe(400);
    expect((refused.body as unknown as ScimErrorBody).scimType).toBe('invalidValue');
    const user = await createUser(d.token, d.id, oktaUser(`ok-${newId().slice(-6)}@allowed.test`));
    const moved = await patch(d.token, d.id, user.id, [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'ok@elsewhere.test' }]);
    expect(moved.status).toBe(400);
    expect((moved.body as unknown as ScimErrorBody).scimType).toBe('invalidValue');
  });

  it('shows an administrator\'s deactivation in the SCIM view (active false, a new version)', async () => {
    const user = await createUser(tokenA, dirA.id, oktaUser(`mirror-${newId().slice(-8)}@acme.test`));
    expect((await api(admin, 'PATCH', `/api/v1/users/${user.id}`, { active: false })).status).toBe(200);
    const got = await scim(tokenA, dirA.id, 'GET', `/Users/${user.id}`);
    expect(got.body.active).toBe(false);
    expect(got.body.meta.version).toBe('W/"2"');
    const inactive = await scim<ListResponse>(tokenA, dirA.id, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${user.userName}" and active eq false`)}`);
    expect(inactive.body.totalResults).toBe(1);
  });
});
