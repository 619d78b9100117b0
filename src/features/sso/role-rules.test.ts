import { describe, expect, it } from 'vitest';
import { claimAt, compilePattern, evaluateRules, MAX_TESTED_LENGTH, MAX_TESTED_VALUES, type RoleRule, RulePatternError, ruleMatches } from './role-rules.js';

const rule = (claim: string, operator: RoleRule['operator'], value: string, roleId = 'r'): RoleRule => ({ claim, operator, value, roleId, organizationId: null });

describe('SSO role rules (pure)', () => {
  it('equals is exact; arrays match on any element; numbers and booleans by their string form', () => {
    expect(ruleMatches(rule('groups', 'equals', 'admins'), { groups: ['users', 'admins'] })).toBe(true);
    expect(ruleMatches(rule('groups', 'equals', 'admins'), { groups: ['Admins'] })).toBe(false);
    expect(ruleMatches(rule('department', 'equals', 'R&D'), { department: 'R&D' })).toBe(true);
    expect(ruleMatches(rule('level', 'equals', '42'), { level: 42 })).toBe(true);
    expect(ruleMatches(rule('staff', 'equals', 'true'), { staff: true })).toBe(true);
    expect(ruleMatches(rule('groups', 'equals', 'admins'), {})).toBe(false);
    expect(ruleMatches(rule('groups', 'equals', '[object Object]'), { groups: [{}] })).toBe(false);
  });

  it('contains: substring of a string, element equality for an array', () => {
    expect(ruleMatches(rule('department', 'contains', 'Eng'), { department: 'Platform Engineering' })).toBe(true);
    expect(ruleMatches(rule('groups', 'contains', 'admins'), { groups: ['sysadmins'] })).toBe(false);
    expect(ruleMatches(rule('groups', 'contains', 'admins'), { groups: ['admins'] })).toBe(true);
  });

  it('nested claims by a dotted name when no claim has that exact name', () => {
    expect(claimAt({ realm_access: { roles: ['a'] } }, 'realm_access.roles')).toEqual(['a']);
    expect(claimAt({ 'a.b': 1, a: { b: 2 } }, 'a.b')).toBe(1);
    expect(claimAt({ a: ['x'] }, 'a.0')).toBeUndefined();
    expect(ruleMatches(rule('realm_access.roles', 'equals', 'admin'), { realm_access: { roles: ['admin'] } })).toBe(true);
  });

  it('regex is RE2 (unanchored search); RE2-refused patterns do not compile', () => {
    expect(ruleMatches(rule('groups', 'regex', '^eng-(admins|leads)$'), { groups: ['eng-leads'] })).toBe(true);
    expect(ruleMatches(rule('groups', 'regex', 'admins'), { groups: ['sysadmins'] })).toBe(true);
    expect(ruleMatches(rule('groups', 'regex', '^admins$'), { groups: ['sysadmins'] })).toBe(false);
    expect(() => compilePattern('(a)\\1')).toThrow(RulePatternError);
    expect(() => compilePattern('(?=a)a')).toThrow(RulePatternError);
    // A pattern refused by RE2 never matches at sign-in (it was refused at configuration).
    expect(ruleMatches(rule('groups', 'regex', '(?=a)a'), { groups: ['a'] })).toBe(false);
  });

  it('a classic ReDoS pattern against a long input completes (linear-time engine), and the input is capped', () => {
    const long = `${'a'.repeat(50_000)}!`;
    expect(ruleMatches(rule('groups', 'regex', '(a+)+$'), { groups: [long] })).toBe(true);
    expect(ruleMatches(rule('groups', 'regex', '(a+)+!$'), { groups: [long] })).toBe(false); // the `!` is past the cap
    expect(ruleMatches(rule('groups', 'regex', `^a{${MAX_TESTED_LENGTH}}$`), { groups: [long] })).toBe(true);
    const many = Array.from({ length: MAX_TESTED_VALUES + 5 }, (_, i) => `g${i}`);
    expect(ruleMatches(rule('groups', 'equals', `g${MAX_TESTED_VALUES - 1}`), { groups: many })).toBe(true);
    expect(ruleMatches(rule('groups', 'equals', `g${MAX_TESTED_VALUES}`), { groups: many })).toBe(false);
  });

  const rules = [rule('groups', 'equals', 'admins', 'admin'), rule('groups', 'equals', 'users', 'user'), rule('groups', 'regex', '.', 'viewer')];

  it('highest_match: the first matching rule in order wins', () => {
    const e = evaluateRules(rules, 'highest_match', { groups: ['users', 'admins'] }, 'default');
    expect(e.roles.map((r) => r.roleId)).toEqual(['admin']);
    expect(e.matched.map((m) => m.index)).toEqual([0]);
    expect(evaluateRules(rules, 'highest_match', { groups: ['users'] }, 'default').roles.map((r) => r.roleId)).toEqual(['user']);
  });

  it('additive: every matching rule\'s role, once each', () => {
    const e = evaluateRules([...rules, rule('groups', 'equals', 'admins', 'admin')], 'additive', { groups: ['users', 'admins'] }, 'default');
    expect(e.roles.map((r) => r.roleId)).toEqual(['admin', 'user', 'viewer']);
    expect(e.matched.map((m) => m.index)).toEqual([0, 1, 2, 3]);
  });

  it('no match: the default role, or nothing', () => {
    expect(evaluateRules(rules, 'additive', { groups: [] }, 'default')).toMatchObject({ roles: [{ roleId: 'default', ruleIndex: null }], usedDefault: true });
    expect(evaluateRules(rules, 'highest_match', {}, null)).toMatchObject({ roles: [], usedDefault: false });
  });
});
