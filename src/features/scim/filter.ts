import { parse, type Filter } from 'scim2-parse-filter';
import { AppError } from '../../kernel/app-error.js';
import { ScimErrors } from './scim.errors.js';
import { type AttrDef, type ResourceSchema, resolvePath, type ResolvedPath } from './scim-schema.js';

/**
 * SCIM filters (RFC 7644 §3.4.2.2). `scim2-parse-filter` turns the text into a syntax tree (operators and
 * `and`/`or`/`not` case-insensitively, grouping, value paths `emails[type eq "work"]`, `pr`); this module checks
 * that tree against the resource's schema and returns a normalised one the SQL translator (scim.store.ts) and
 * the in-memory evaluator (filter-eval.ts) both read. Everything the library leaves open is closed here:
 * attribute names resolve case-insensitively to their canonical form, unknown attributes, a comparison that
 * does not fit the attribute's type (RFC 7644 §3.4.2.2: `gt` on a boolean), `null` operands, nested value
 * paths, and any parse failure answer 400 `invalidFilter`; size and depth are bounded so no filter can exhaust
 * the stack.
 */

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/** A comparable value: a string (string, reference), a boolean, or an instant (dateTime). */
export type FilterValue = string | boolean | Date;

/**
 * A leaf names its attribute either on the resource (`scope: 'resource'`, `path`) or, inside a value path, on
 * the element (`scope: 'element'`, `def` the sub-attribute).
 */
export type FilterNode =
  | { readonly kind: 'and' | 'or'; readonly items: readonly FilterNode[] }
  | { readonly kind: 'not'; readonly item: FilterNode }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly target: Target; readonly value: FilterValue }
  | { readonly kind: 'present'; readonly target: Target }
  /** Some element of the multi-valued attribute `path.attr` matches `filter` (whose targets are element-scoped). */
  | { readonly kind: 'some'; readonly path: ResolvedPath; readonly filter: FilterNode };

export type Target = { readonly scope: 'resource'; readonly path: ResolvedPath } | { readonly scope: 'element'; readonly def: AttrDef };

/** Longest filter text accepted, and the most nodes / deepest nesting of its tree. */
export const MAX_FILTER_LENGTH = 4096;
const MAX_NODES = 200;
const MAX_DEPTH = 32;

const invalid = (message: string) => new AppError(ScimErrors['scim.invalid_filter'], { message });

/** The type a leaf's attribute compares as. */
export function typeOf(target: Target): AttrDef {
  return target.scope === 'element' ? target.def : (target.path.sub ?? target.path.attr);
}

function checkValue(op: CompareOp, def: AttrDef, value: unknown, where: string): FilterValue {
  if (value === null) throw invalid(`${where}: compare with null is not supported; use "pr" or "not (… pr)".`);
  switch (def.type) {
    case 'boolean':
      if (op !== 'eq' && op !== 'ne') throw invalid(`${where}: "${op}" is not defined for a boolean attribute (RFC 7644 §3.4.2.2).`);
      if (typeof value !== 'boolean') throw invalid(`${where}: the attribute is boolean; compare it with true or false.`);
      return value;
    case 'dateTime': {
      if (op === 'co' || op === 'sw' || op === 'ew') throw invalid(`${where}: "${op}" is not defined for a dateTime attribute.`);
      const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
      if (Number.isNaN(ms)) throw invalid(`${where}: the attribute is a dateTime; compare it with an xsd:dateTime string.`);
      return new Date(ms);
    }
    case 'string':
    case 'reference':
      if (typeof value !== 'string') throw invalid(`${where}: the attribute is a string; quote the value.`);
      return value;
    default:
      throw invalid(`${where}: a complex attribute compares only through its sub-attributes.`);
  }
}

class Translator {
  private nodes = 0;
  constructor(private readonly resource: ResourceSchema) {}

  node(f: Filter, depth: number, element: ResolvedPath | null): FilterNode {
    if (++this.nodes > MAX_NODES || depth > MAX_DEPTH) throw invalid('The filter is too large or too deeply nested.');
    switch (f.op) {
      case 'and':
      case 'or':
        return { kind: f.op, items: f.filters.map((x) => this.node(x, depth + 1, element)) };
      case 'not':
        return { kind: 'not', item: this.node(f.filter, depth + 1, element) };
      case '[]': {
        if (element) throw invalid('Value paths do not nest.');
        const path = this.resolve(f.attrPath);
        if (!path.attr.multiValued || path.attr.type !== 'complex' || path.sub) throw invalid(`${f.attrPath}: a value filter applies to a multi-valued complex attribute.`);
        return { kind: 'some', path, filter: this.node(f.valFilter, depth + 1, path) };
      }
      case 'pr':
        return this.leaf(f.attrPath, element, 'pr', undefined);
      default:
        return this.leaf(f.attrPath, element, f.op, f.compValue);
    }
  }

  private resolve(attrPath: string): ResolvedPath {
    const path = resolvePath(this.resource, attrPath);
    if (!path) throw invalid(`${attrPath}: no such attribute of ${this.resource.name}.`);
    const def = path.sub ?? path.attr;
    if (def.returned === 'never' || path.attr.returned === 'never') throw invalid(`${attrPath}: the attribute cannot be filtered on.`);
    return path;
  }

  private make(target: Target, op: CompareOp | 'pr', value: unknown, attrPath: string): FilterNode {
    return op === 'pr' ? { kind: 'present', target } : { kind: 'compare', op, target, value: checkValue(op, typeOf(target), value, attrPath) };
  }

  private leaf(attrPath: string, element: ResolvedPath | null, op: CompareOp | 'pr', value: unknown): FilterNode {
    if (element) {
      const def = element.attr.subAttributes?.find((s) => s.name.toLowerCase() === attrPath.toLowerCase());
      if (!def) throw invalid(`${attrPath}: no such sub-attribute of ${element.attr.name}.`);
      return this.make({ scope: 'element', def }, op, value, attrPath);
    }
    const path = this.resolve(attrPath);
    if (path.attr.multiValued) {
      // RFC 7644 §3.4.2.2: a filter on a multi-valued attribute matches when any value matches; without a
      // sub-attribute the comparison is on `value`; `emails pr` asks for at least one value.
      if (op === 'pr' && !path.sub) return { kind: 'present', target: { scope: 'resource', path } };
      const def = path.sub ?? path.attr.subAttributes?.find((s) => s.name === 'value');
      if (!def) throw invalid(`${attrPath}: name a sub-attribute.`);
      return { kind: 'some', path: { ...path, sub: null }, filter: this.make({ scope: 'element', def }, op, value, attrPath) };
    }
    if (path.attr.type === 'complex' && !path.sub && op !== 'pr') throw invalid(`${attrPath}: a complex attribute compares only through its sub-attributes.`);
    return this.make({ scope: 'resource', path }, op, value, attrPath);
  }
}

/** Parses and checks a filter for `resource`; every failure is 400 `invalidFilter`. */
export function parseFilter(resource: ResourceSchema, text: string): FilterNode {
  if (text.length > MAX_FILTER_LENGTH) throw invalid(`The filter exceeds ${MAX_FILTER_LENGTH} characters.`);
  let tree: Filter;
  try {
    tree = parse(text);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw invalid(`The filter does not parse: ${error instanceof RangeError ? 'too deeply nested' : (error as Error).message}.`);
  }
  return new Translator(resource).node(tree, 0, null);
}

/** Parses a value filter of a PATCH path (`emails[type eq "work"]`) for the elements of `element`. */
export function parseElementFilter(resource: ResourceSchema, element: ResolvedPath, text: string): FilterNode {
  let tree: Filter;
  try {
    tree = parse(text);
  } catch (error) {
    throw invalid(`The value filter does not parse: ${(error as Error).message}.`);
  }
  return new Translator(resource).node(tree, 1, element);
}
