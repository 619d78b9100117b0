import { RE2JS } from 're2js';

/**
 * Claim/group → role rules of an SSO connection, evaluated at every sign-in (pure: no database, no clock).
 *
 * Matching (README "Mapping rules"):
 * - the claim is read by its name, or, when no claim has that exact name, by a dotted path through nested objects
 *   (`realm_access.roles`);
 * - an array claim matches when any element matches (at most MAX_TESTED_VALUES elements are tested); a string is
 *   tested as is; a number or boolean by its string form (`42`, `true`); anything else never matches;
 * - `equals`: exact, case-sensitive equality; `contains`: substring of a string claim, element equality for an
 *   array claim (an element *is* the value: `groups contains admins` matches `["admins"]`, not `["sysadmins"]`);
 * - `regex`: an RE2 pattern (no backreferences nor lookaround) searched in the value (unanchored: use `^…$`),
 *   run by re2js, whose matching time is linear in the input (the OWASP ReDoS guidance: no backtracking engine on
 *   untrusted input); each tested value is cut to MAX_TESTED_LENGTH characters.
 *
 * Modes: `highest_match`, the first matching rule in order wins (order the rules from most to least privileged);
 * `additive`, every matching rule's role. No match: the connection's default role, if any.
 */
export type RuleOperator = 'equals' | 'contains' | 'regex';
export type RulesMode = 'highest_match' | 'additive';

export interface RoleRule {
  readonly claim: string;
  readonly operator: RuleOperator;
  readonly value: string;
  readonly roleId: string;
  readonly organizationId?: string | null | undefined;
}

/** Array elements tested per claim. */
export const MAX_TESTED_VALUES = 1000;
/** Characters of one value tested (longer values are cut). */
export const MAX_TESTED_LENGTH = 1000;

export class RulePatternError extends Error {}

/** Compiles an RE2 pattern; a pattern RE2 refuses (backreference, lookaround, bad syntax) throws RulePatternError. */
export function compilePattern(pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw new RulePatternError((err as Error).message);
  }
}

/** The claim's value: by its exact name, else by a dotted path through nested objects. */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  if (!name.includes('.')) return undefined;
  let at: unknown = claims;
  for (const part of name.split('.')) {
    if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

const scalar = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);

function matchesOne(rule: RoleRule, value: string, isElement: boolean, pattern: RE2JS | undefined): boolean {
  switch (rule.operator) {
    case 'equals':
      return value === rule.value;
    case 'contains':
      return isElement ? value === rule.value : value.includes(rule.value);
    case 'regex':
      return pattern!.matcher(value.slice(0, MAX_TESTED_LENGTH)).find();
  }
}

/** Whether the rule matches the claims. A regex that does not compile never matches (it was refused at configuration). */
export function ruleMatches(rule: RoleRule, claims: Readonly<Record<string, unknown>>, patterns: Map<string, RE2JS | null> = new Map()): boolean {
  let pattern: RE2JS | undefined;
  if (rule.operator === 'regex') {
    if (!patterns.has(rule.value)) {
      try {
        patterns.set(rule.value, compilePattern(rule.value));
      } catch {
        patterns.set(rule.value, null);
      }
    }
    const compiled = patterns.get(rule.value);
    if (!compiled) return false;
    pattern = compiled;
  }
  const raw = claimAt(claims, rule.claim);
  if (Array.isArray(raw)) {
    return raw.slice(0, MAX_TESTED_VALUES).some((e) => {
      const s = scalar(e);
      return s !== undefined && matchesOne(rule, s, true, pattern);
    });
  }
  const s = scalar(raw);
  return s !== undefined && matchesOne(rule, s, false, pattern);
}

export interface MatchedRule {
  /** 0-based position in the connection's rules. */
  readonly index: number;
  readonly rule: RoleRule;
}

export interface Evaluation {
  readonly matched: readonly MatchedRule[];
  /** The roles to hold, in rule order, without duplicates (each with the organization of its first rule). */
  readonly roles: ReadonlyArray<{ readonly roleId: string; readonly organizationId: string | null; readonly ruleIndex: number | null }>;
  /** No rule matched and the default role was used. */
  readonly usedDefault: boolean;
}

export function evaluateRules(rules: readonly RoleRule[], mode: RulesMode, claims: Readonly<Record<string, unknown>>, defaultRoleId: string | null): Evaluation {
  const patterns = new Map<string, RE2JS | null>();
  const matched: MatchedRule[] = [];
  for (const [index, rule] of rules.entries()) {
    if (!ruleMatches(rule, claims, patterns)) continue;
    matched.push({ index, rule });
    if (mode === 'highest_match') break;
  }
  if (matched.length === 0) {
    return { matched, roles: defaultRoleId ? [{ roleId: defaultRoleId, organizationId: null, ruleIndex: null }] : [], usedDefault: defaultRoleId !== null };
  }
  const seen = new Set<string>();
  const roles = [];
  for (const m of matched) {
    if (seen.has(m.rule.roleId)) continue;
    seen.add(m.rule.roleId);
    roles.push({ roleId: m.rule.roleId, organizationId: m.rule.organizationId ?? null, ruleIndex: m.index });
  }
  return { matched, roles, usedDefault: false };
}
