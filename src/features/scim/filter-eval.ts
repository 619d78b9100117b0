import type { FilterNode, FilterValue, Target } from './filter.js';
import type { AttrDef, ResolvedPath } from './scim-schema.js';

/**
 * Evaluates a checked filter (filter.ts) in memory, with exactly the semantics of its SQL translation
 * (scim.store.ts `filterSql`): a comparison with an absent value is false (so `ne` and `not` of it are true),
 * strings compare lower-cased unless the attribute is `caseExact` (RFC 7643 §2.3.1), ordering compares code
 * points (the SQL side uses `COLLATE "C"`), booleans and instants compare by value, and `pr` means a value that
 * is not null, "" , [] or {} (RFC 7643 §2.5: those are unassigned). The PATCH engine selects the elements of a
 * value path with it; the property tests use it as the oracle of the SQL translation.
 */

/** What a filter is evaluated against: the resource's columns by canonical path, and its JSON document. */
export interface FilterSubject {
  readonly columns: Readonly<Record<string, unknown>>;
  readonly resource: Readonly<Record<string, unknown>>;
}

/** The canonical key of a resolved path: `[urn:]attr[.sub]`. */
export function pathKey(path: ResolvedPath): string {
  return `${path.schema ? `${path.schema}:` : ''}${path.attr.name}${path.sub ? `.${path.sub.name}` : ''}`;
}

function member(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}

/** The value a resource-scoped path names: a column when the storage maps it to one, else the JSON document. */
export function valueAt(subject: FilterSubject, path: ResolvedPath): unknown {
  const key = pathKey(path);
  if (key in subject.columns) return subject.columns[key];
  const container = path.schema ? member(subject.resource, path.schema) : subject.resource;
  const value = member(container, path.attr.name);
  return path.sub ? member(value, path.sub.name) : value;
}

export function isPresent(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object' && !(value instanceof Date)) return Object.keys(value).length > 0;
  return true;
}

/** `a` compared with `b` (-1, 0, 1) by UTF-16 code units, which equals code-point order outside surrogates. */
function order(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compare(op: string, def: AttrDef, actual: unknown, expected: FilterValue): boolean {
  if (op === 'ne') return !compare('eq', def, actual, expected);
  if (typeof expected === 'boolean') return actual === expected;
  if (expected instanceof Date) {
    const at = actual instanceof Date ? actual.getTime() : typeof actual === 'string' ? Date.parse(actual) : Number.NaN;
    if (Number.isNaN(at)) return false;
    const c = Math.sign(at - expected.getTime());
    return op === 'eq' ? c === 0 : op === 'gt' ? c > 0 : op === 'ge' ? c >= 0 : op === 'lt' ? c < 0 : c <= 0;
  }
  if (typeof actual !== 'string') return false;
  const a = def.caseExact ? actual : actual.toLowerCase();
  const b = def.caseExact ? expected : expected.toLowerCase();
  switch (op) {
    case 'eq':
      return a === b;
    case 'co':
      return a.includes(b);
    case 'sw':
      return a.startsWith(b);
    case 'ew':
      return a.endsWith(b);
    case 'gt':
      return order(a, b) > 0;
    case 'ge':
      return order(a, b) >= 0;
    case 'lt':
      return order(a, b) < 0;
    default:
      return order(a, b) <= 0;
  }
}

function leafValue(target: Target, subject: FilterSubject | undefined, element: unknown): unknown {
  return target.scope === 'element' ? member(element, target.def.name) : valueAt(subject!, target.path);
}

function evaluate(node: FilterNode, subject: FilterSubject | undefined, element: unknown): boolean {
  switch (node.kind) {
    case 'and':
      return node.items.every((n) => evaluate(n, subject, element));
    case 'or':
      return node.items.some((n) => evaluate(n, subject, element));
    case 'not':
      return !evaluate(node.item, subject, element);
    case 'present':
      return isPresent(leafValue(node.target, subject, element));
    case 'compare': {
      const def = node.target.scope === 'element' ? node.target.def : (node.target.path.sub ?? node.target.path.attr);
      return compare(node.op, def, leafValue(node.target, subject, element), node.value);
    }
    case 'some': {
      const values = valueAt(subject!, node.path);
      return Array.isArray(values) && values.some((e) => evaluate(node.filter, subject, e));
    }
  }
}

/** Whether the resource matches the filter. */
export function matches(node: FilterNode, subject: FilterSubject): boolean {
  return evaluate(node, subject, undefined);
}

/** Whether one element of a multi-valued attribute matches a value filter (its targets are element-scoped). */
export function elementMatches(node: FilterNode, element: unknown): boolean {
  return evaluate(node, undefined, element);
}
