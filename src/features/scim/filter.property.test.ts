import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServices, type TestServices } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { isAppError } from '../../kernel/app-error.js';
import { parseFilter } from './filter.js';
import { type FilterSubject, matches } from './filter-eval.js';
import type { ScimCaller } from './scim-caller.js';
import { ENTERPRISE_USER, USER_RESOURCE } from './scim-schema.js';

/**
 * RFC 7644 §3.4.2.2 filters, translated to SQL (scim.store.ts), checked against the in-memory evaluator
 * (filter-eval.ts) over the same users: for any filter fast-check builds — valid, ill-typed or garbage — the list
 * either answers exactly the users the evaluator picks, or refuses with 400 `invalidFilter`; never a 5xx, never a
 * database error. Strings come from a small ASCII alphabet with the LIKE wildcards, the escape character, quotes
 * and both letter cases, so collisions, case-insensitivity and escaping are exercised.
 */
const ALPHABET = ['a', 'b', 'A', 'B', '%', '_', '\\', '"', ' ', '.', '@', 'z'];
const text = (max: number) => fc.array(fc.constantFrom(...ALPHABET), { maxLength: max }).map((cs) => cs.join(''));
const word = fc.array(fc.constantFrom('a', 'b', 'A', 'B', '_', '%'), { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''));

const STRING_ATTRS = ['userName', 'displayName', 'title', 'name.givenName', 'name.familyName', 'externalId', 'emails.value', 'emails.type', 'id', `${ENTERPRISE_USER}:department`, 'nickName'];
const ALL_ATTRS = [...STRING_ATTRS, 'active', 'emails.primary', 'meta.created', 'meta.lastModified', 'emails', 'name', 'USERNAME', 'Emails.Value', 'shoeSize', 'password', 'meta', `${ENTERPRISE_USER}:manager.value`];
const OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'EQ', 'Co'];

const quote = (s: string) => `"${s.replace(/"/g, '\\"')}"`;
const value = fc.oneof(
  text(4).map(quote),
  fc.constantFrom('true', 'false', 'null', '42', '"2020-01-01T00:00:00Z"', '"2999-01-01T00:00:00Z"', '"not a date"'),
);
const leaf = fc.oneof(
  fc.tuple(fc.constantFrom(...ALL_ATTRS), fc.constantFrom(...OPS), value).map(([a, op, v]) => `${a} ${op} ${v}`),
  fc.tuple(fc.constantFrom(...STRING_ATTRS), fc.constantFrom('eq', 'co', 'sw', 'ew', 'gt', 'le'), text(3)).map(([a, op, v]) => `${a} ${op} ${quote(v)}`),
  fc.constantFrom(...ALL_ATTRS).map((a) => `${a} pr`),
  fc.tuple(fc.constantFrom('type', 'value', 'primary', 'display', 'nope'), fc.constantFrom('eq', 'co', 'ne'), value).map(([a, op, v]) => `emails[${a} ${op} ${v}]`),
);
const { filter } = fc.letrec<{ filter: string }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(tie('filter'), fc.constantFrom('and', 'or', 'AND', 'Or'), tie('filter')).map(([l, op, r]) => `${l} ${op} ${r}`),
    tie('filter').map((f) => `not (${f})`),
    tie('filter').map((f) => `(${f})`),
  ),
}));
const garbage = fc.oneof(text(30), fc.string({ maxLength: 40 }), fc.constantFrom('(', ')', '[', 'userName eq', 'not', 'userName eq "a" and', 'emails[type eq "a"', 'a[b[c eq 1]]', '((((((((((((((((((((userName pr))))))))))))))))))))'));

interface Representation {
  id: string;
  userName: string;
  externalId?: string;
  active: boolean;
  schemas: string[];
  meta: { created: string; lastModified: string };
  [key: string]: unknown;
}

function subjectOf(r: Representation): FilterSubject {
  const { id, userName, externalId, active, schemas: _s, meta, ...resource } = r;
  return { columns: { id, userName, externalId, active, 'meta.created': new Date(meta.created), 'meta.lastModified': new Date(meta.lastModified) }, resource };
}

describe.each(engines())('SCIM filters: SQL equals the in-memory evaluation [%s]', (engine) => {
  let s: TestServices;
  let caller: ScimCaller;
  let subjects: { id: string; subject: FilterSubject }[] = [];
  const outcomes = { valid: 0, invalid: 0, discriminating: 0 };

  beforeAll(async () => {
    s = await startTestServices(engine);
    const boot = await s.services.bootstrap.bootstrap({ tenantName: 'Props', accountName: 'Main', email: 'admin@props.test', password: 'correct horse battery staple 42' });
    const actor = { type: 'user' as const, id: boot.userId };
    const directory = await s.services.scimDirectories.create(boot.tenantId, actor, { name: 'Fuzz' });
    const { token } = await s.services.scimDirectories.createToken(boot.tenantId, actor, directory.id);
    caller = await s.services.scimDirectories.authenticate(directory.id, token);
    const users = fc.sample(
      fc.record({
        local: word,
        displayName: fc.option(text(5), { nil: undefined }),
        title: fc.option(text(3), { nil: undefined }),
        givenName: fc.option(word, { nil: undefined }),
        externalId: fc.option(word, { nil: undefined }),
        active: fc.boolean(),
        department: fc.option(text(3), { nil: undefined }),
        emails: fc.array(fc.record({ local: word, type: fc.constantFrom('work', 'home', 'Work', undefined), primary: fc.boolean() }), { maxLength: 3 }),
      }),
      { numRuns: 30, seed: 4242 },
    );
    for (const [i, u] of users.entries()) {
      let primarySeen = false;
      const emails = u.emails.map((e, j) => {
        const primary = e.primary && !primarySeen;
        primarySeen ||= primary;
        return { value: `${e.local}${i}.${j}@x.example`, ...(e.type ? { type: e.type } : {}), ...(primary ? { primary: true } : {}) };
      });
      const created = await s.services.scimUsers.create(caller, { ip: '127.0.0.1', userAgent: null }, {
        userName: `${u.local}${i}@fuzz.example`,
        displayName: u.displayName,
        title: u.title,
        name: u.givenName ? { givenName: u.givenName, familyName: 'F' } : undefined,
        externalId: u.externalId,
        active: u.active,
        emails,
        ...(u.department !== undefined ? { [ENTERPRISE_USER]: { department: u.department } } : {}),
      });
      const r = created.resource as Representation;
      subjects.push({ id: r.id, subject: subjectOf(r) });
    }
    subjects = subjects.sort((a, b) => a.id.localeCompare(b.id));
  }, 120_000);
  afterAll(async () => {
    await s?.close();
  });

  async function check(text: string): Promise<void> {
    let expected: string[] | 'invalid';
    try {
      // An empty filter is no filter (the list's rule).
      const node = text.trim() === '' ? null : parseFilter(USER_RESOURCE, text);
      expected = subjects.filter((x) => node === null || matches(node, x.subject)).map((x) => x.id);
      outcomes.valid++;
      if (expected.length > 0 && expected.length < subjects.length) outcomes.discriminating++;
    } catch (error) {
      expect(isAppError(error) && error.code === 'scim.invalid_filter', `${text}: ${String(error)}`).toBe(true);
      expected = 'invalid';
      outcomes.invalid++;
    }
    try {
      const list = (await s.services.scimUsers.list(caller, { filter: text, count: '200' })) as { Resources: { id: string }[]; totalResults: number };
      const got = list.Resources.map((r) => r.id).sort();
      expect(got, text).toEqual(expected);
      expect(list.totalResults).toBe(got.length);
    } catch (error) {
      if (!isAppError(error)) throw new Error(`${text}: a database or internal error leaked: ${String(error)}`);
      expect(error.status, `${text}: ${error.code}`).toBe(400);
      expect(error.code).toBe('scim.invalid_filter');
      expect(expected, text).toBe('invalid');
    }
  }

  it('random filters: the SQL answer equals the evaluator, or both refuse with invalidFilter', async () => {
    await fc.assert(fc.asyncProperty(filter, check), { numRuns: engine === 'postgres' ? 300 : 200, seed: 7 });
    // Not vacuous: many filters are valid and select some users but not all.
    expect(outcomes.valid).toBeGreaterThan(40);
    expect(outcomes.discriminating).toBeGreaterThan(20);
  }, 120_000);

  it('garbage never gives a 5xx nor leaks a database error', async () => {
    await fc.assert(fc.asyncProperty(garbage, check), { numRuns: 150 });
  }, 120_000);

  it('selects something: the sample is not vacuous', () => {
    const node = parseFilter(USER_RESOURCE, 'emails[type eq "work"] or title pr');
    expect(subjects.filter((x) => matches(node, x.subject)).length).toBeGreaterThan(0);
    expect(subjects.filter((x) => !matches(node, x.subject)).length).toBeGreaterThan(0);
  });

  it('parses the grammar: precedence (and over or), not, grouping, case-insensitive operators and names', () => {
    const f = (t: string) => parseFilter(USER_RESOURCE, t);
    expect(f('userName pr or title pr and nickName pr')).toMatchObject({ kind: 'or', items: [{ kind: 'present' }, { kind: 'and' }] });
    expect(f('(userName pr or title pr) and nickName pr')).toMatchObject({ kind: 'and', items: [{ kind: 'or' }, { kind: 'present' }] });
    expect(f('NOT (USERNAME PR)')).toMatchObject({ kind: 'not', item: { kind: 'present', target: { path: { attr: { name: 'userName' } } } } });
    expect(f('Emails[TYPE Eq "work"]')).toMatchObject({ kind: 'some', path: { attr: { name: 'emails' } }, filter: { kind: 'compare', op: 'eq', target: { def: { name: 'type' } } } });
    expect(f(`${ENTERPRISE_USER.toUpperCase()}:DEPARTMENT eq "x"`)).toMatchObject({ kind: 'compare', target: { path: { schema: ENTERPRISE_USER, attr: { name: 'department' } } } });
    expect(f('emails co "@x"')).toMatchObject({ kind: 'some', filter: { kind: 'compare', op: 'co', target: { def: { name: 'value' } } } });
  });
});
