import { describe, expect, it } from 'vitest';
import { isAppError } from '../../kernel/app-error.js';
import { applyPatch } from './patch.js';
import { normalizeDocument, project } from './resource.js';
import { ENTERPRISE_USER, GROUP_RESOURCE, PATCH_OP, USER_RESOURCE } from './scim-schema.js';

/** RFC 7644 §3.5.2 over canonical documents: the rules the HTTP suite does not reach one by one. */
const ops = (...operations: unknown[]) => ({ schemas: [PATCH_OP], Operations: operations });
const user = () => normalizeDocument(USER_RESOURCE, {
  userName: 'a@acme.test',
  emails: [{ value: 'a@acme.test', type: 'work', primary: true }, { value: 'a@home.test', type: 'home' }],
  name: { givenName: 'A', familyName: 'B' },
});
const scimTypeOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (isAppError(error)) return error.code;
    throw error;
  }
  return 'no error';
};

describe('PATCH engine', () => {
  it('add to a multi-valued attribute appends without duplicates; a new primary demotes the old one', () => {
    const out = applyPatch(USER_RESOURCE, user(), ops({ op: 'add', path: 'emails', value: [{ value: 'a@home.test', type: 'home' }, { value: 'n@acme.test', type: 'other', primary: 'True' }] }));
    expect(out.emails).toEqual([{ value: 'a@acme.test', type: 'work' }, { value: 'a@home.test', type: 'home' }, { value: 'n@acme.test', type: 'other', primary: true }]);
  });

  it('replace through a value filter changes only the matching values; remove through one drops them', () => {
    const replaced = applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', path: 'emails[type eq "home"].value', value: 'b@home.test' }));
    expect(replaced.emails).toEqual([{ value: 'a@acme.test', type: 'work', primary: true }, { value: 'b@home.test', type: 'home' }]);
    const removed = applyPatch(USER_RESOURCE, user(), ops({ op: 'remove', path: 'emails[type eq "home"]' }));
    expect(removed.emails).toEqual([{ value: 'a@acme.test', type: 'work', primary: true }]);
    const subRemoved = applyPatch(USER_RESOURCE, user(), ops({ op: 'remove', path: 'emails[type eq "work"].primary' }));
    expect(subRemoved.emails).toEqual([{ value: 'a@acme.test', type: 'work' }, { value: 'a@home.test', type: 'home' }]);
  });

  it('replace on a complex attribute merges sub-attributes (RFC 7644 §3.5.2.3); path-less values may be dotted or URN-prefixed', () => {
    const out = applyPatch(USER_RESOURCE, user(), ops(
      { op: 'replace', path: 'name', value: { givenName: 'C' } },
      { op: 'replace', value: { 'NAME.FAMILYNAME': 'D', [`${ENTERPRISE_USER}:Department`]: 'R&D', [ENTERPRISE_USER]: { employeeNumber: 7 } } },
    ));
    expect(out.name).toEqual({ givenName: 'C', familyName: 'D' });
    expect(out[ENTERPRISE_USER]).toEqual({ department: 'R&D', employeeNumber: '7' });
    const emptied = applyPatch(USER_RESOURCE, out, ops({ op: 'remove', path: `${ENTERPRISE_USER}:department` }, { op: 'remove', path: `${ENTERPRISE_USER}:employeeNumber` }));
    expect(emptied).not.toHaveProperty(ENTERPRISE_USER);
  });

  it('refuses what RFC 7644 §3.5.2 refuses, with its scimType', () => {
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'remove' })))).toBe('scim.no_target');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', path: 'emails[type eq "fax"].value', value: 'x' })))).toBe('scim.no_target');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', path: 'meta.created', value: 'x' })))).toBe('scim.mutability');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', path: 'emails[type eq "work"', value: 'x' })))).toBe('scim.invalid_path');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', path: 'emails[nope eq "x"].value', value: 'x' })))).toBe('scim.invalid_path');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'remove', path: 'userName' })))).toBe('scim.invalid_value');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), { Operations: 'x' }))).toBe('scim.invalid_syntax');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), { schemas: ['urn:other'], Operations: [{ op: 'add', path: 'title', value: 'x' }] }))).toBe('scim.invalid_syntax');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), ops(...Array.from({ length: 1001 }, () => ({ op: 'add', path: 'title', value: 'x' })))))).toBe('scim.too_many');
    expect(scimTypeOf(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'add', path: 'emails', value: [{ value: 'x@y.z', primary: true }, { value: 'y@y.z', primary: true }] })))).toBe('scim.invalid_value');
  });

  it('group members: batch add without duplicates, remove by value filter, Entra ID remove by value array', () => {
    const group = normalizeDocument(GROUP_RESOURCE, { displayName: 'Eng', members: [{ value: 'u1' }] });
    const added = applyPatch(GROUP_RESOURCE, group, ops({ op: 'Add', path: 'members', value: [{ value: 'u1' }, { value: 'u2' }, { value: 'u3' }] }));
    expect(added.members).toEqual([{ value: 'u1' }, { value: 'u2' }, { value: 'u3' }]);
    const filtered = applyPatch(GROUP_RESOURCE, added, ops({ op: 'remove', path: 'members[value eq "u2"]' }));
    expect(filtered.members).toEqual([{ value: 'u1' }, { value: 'u3' }]);
    const entra = applyPatch(GROUP_RESOURCE, added, ops({ op: 'Remove', path: 'members', value: [{ value: 'u1' }, { value: 'u3' }] }));
    expect(entra.members).toEqual([{ value: 'u2' }]);
  });

  it('does not change its input', () => {
    const doc = user();
    const copy = structuredClone(doc);
    applyPatch(USER_RESOURCE, doc, ops({ op: 'replace', path: 'emails[type eq "work"].value', value: 'z@acme.test' }));
    expect(doc).toEqual(copy);
  });
});

describe('documents and projection', () => {
  it('canonicalises names, drops unassigned, read-only and write-only values, coerces Entra ID booleans', () => {
    const doc = normalizeDocument(USER_RESOURCE, { USERNAME: 'x@y.z', Active: 'FALSE', id: 'ignored', meta: { version: 'x' }, password: 'secret', title: '', nickName: null, emails: [], unknown: 1 });
    expect(doc).toEqual({ userName: 'x@y.z', active: false });
  });

  it('keeps id and schemas, narrows to named attributes and sub-attributes', () => {
    const representation = { schemas: ['s'], id: 'i', userName: 'u', name: { givenName: 'g', familyName: 'f' }, [ENTERPRISE_USER]: { department: 'd', division: 'v' } };
    expect(project(USER_RESOURCE, representation, 'name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', undefined)).toEqual({ schemas: ['s'], id: 'i', name: { givenName: 'g' }, [ENTERPRISE_USER]: { department: 'd' } });
    expect(project(USER_RESOURCE, representation, undefined, 'name.familyName,id')).toEqual({ schemas: ['s'], id: 'i', userName: 'u', name: { givenName: 'g' }, [ENTERPRISE_USER]: { department: 'd', division: 'v' } });
  });
});
