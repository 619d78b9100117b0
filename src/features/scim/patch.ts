import { AppError } from '../../kernel/app-error.js';
import { parseElementFilter, type FilterNode } from './filter.js';
import { elementMatches } from './filter-eval.js';
import { assign, type Doc, invalidValue, normalizeValue } from './resource.js';
import { ScimErrors } from './scim.errors.js';
import { type AttrDef, extensionNamed, PATCH_OP, type ResourceSchema, resolvePath, type ResolvedPath } from './scim-schema.js';

/**
 * RFC 7644 §3.5.2 PATCH over a canonical document (resource.ts), schema-driven so Users and Groups share it:
 * `add`, `replace`, `remove` (case-insensitively: Entra ID sends `Replace`), paths `attr`, `attr.sub`,
 * `urn:…:attr`, `attr[filter]` and `attr[filter].sub`, path-less operations whose value object holds
 * attribute names, dotted names and URN-prefixed names (Entra ID's `urn:…:enterprise:2.0:User:department`),
 * and a `remove` of a multi-valued attribute with a `value` array naming the elements to drop (Entra ID's
 * member removal). Values are normalised with the attribute's definition ("False" → false). The caller
 * validates the whole document afterwards (required attributes, uniqueness).
 */

const MAX_OPERATIONS = 1000;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const invalidPath = (message: string) => new AppError(ScimErrors['scim.invalid_path'], { message });
const noTarget = (message: string) => new AppError(ScimErrors['scim.no_target'], { message });
const syntax = (message: string) => new AppError(ScimErrors['scim.invalid_syntax'], { message });

type Op = 'add' | 'replace' | 'remove';

interface Path {
  readonly path: ResolvedPath;
  readonly filter: FilterNode | null;
  /** The sub-attribute after a value filter (`emails[type eq "work"].value`). */
  readonly subAfter: AttrDef | null;
}

/** Parses a PATCH path (RFC 7644 §3.5.2 `PATH = attrPath / valuePath [subAttr]`); failures are `invalidPath`. */
export function parsePatchPath(resource: ResourceSchema, text: string): Path {
  const open = text.indexOf('[');
  if (open < 0) {
    const path = resolvePath(resource, text.trim());
    if (!path) throw invalidPath(`${text}: no such attribute of ${resource.name}.`);
    return { path, filter: null, subAfter: null };
  }
  const close = text.lastIndexOf(']');
  if (close < open) throw invalidPath(`${text}: unbalanced brackets.`);
  const path = resolvePath(resource, text.slice(0, open).trim());
  if (!path || path.sub || !path.attr.multiValued || path.attr.type !== 'complex') throw invalidPath(`${text}: a value filter applies to a multi-valued complex attribute.`);
  const rest = text.slice(close + 1);
  let subAfter: AttrDef | null = null;
  if (rest !== '') {
    const name = /^\.([A-Za-z$][\w$-]*)$/.exec(rest)?.[1];
    subAfter = (name && path.attr.subAttributes?.find((s) => s.name.toLowerCase() === name.toLowerCase())) || null;
    if (!subAfter) throw invalidPath(`${text}: no such sub-attribute after the filter.`);
  }
  let filter: FilterNode;
  try {
    filter = parseElementFilter(resource, path, text.slice(open + 1, close));
  } catch (error) {
    throw invalidPath(`${text}: ${(error as Error).message}`);
  }
  return { path, filter, subAfter };
}

function checkWritable(p: Path, text: string): void {
  const def = p.subAfter ?? p.path.sub ?? p.path.attr;
  if (p.path.attr.mutability === 'readOnly' || def.mutability === 'readOnly') {
    throw new AppError(ScimErrors['scim.mutability'], { message: `${text} is read-only.` });
  }
}

function containerOf(doc: Doc, path: ResolvedPath, create: boolean): Doc | undefined {
  if (!path.schema) return doc;
  if (!isObject(doc[path.schema])) {
    if (!create) return undefined;
    doc[path.schema] = {};
  }
  return doc[path.schema] as Doc;
}

/** Drops an emptied extension object or complex value (RFC 7643 §2.5: empty means unassigned). */
function tidy(doc: Doc, path: ResolvedPath): void {
  const container = containerOf(doc, path, false);
  if (!container) return;
  const value = container[path.attr.name];
  if ((Array.isArray(value) && value.length === 0) || (isObject(value) && Object.keys(value).length === 0)) delete container[path.attr.name];
  if (path.schema && Object.keys(container).length === 0) delete doc[path.schema];
}

/** RFC 7643 §2.4: one primary value at most; a value added as primary demotes the others. */
function keepOnePrimary(values: Doc[], chosen: readonly Doc[]): void {
  if (!chosen.some((v) => v.primary === true)) return;
  for (const v of values) if (!chosen.includes(v) && v.primary === true) delete v.primary;
}

/** The equality-conditions of a simple value filter (`type eq "work" and primary eq true`), for an `add` that creates. */
function equalities(node: FilterNode): Record<string, unknown> | undefined {
  if (node.kind === 'compare' && node.op === 'eq' && node.target.scope === 'element' && !(node.value instanceof Date)) return { [node.target.def.name]: node.value };
  if (node.kind === 'and') {
    const out: Record<string, unknown> = {};
    for (const item of node.items) {
      const e = equalities(item);
      if (!e) return undefined;
      Object.assign(out, e);
    }
    return out;
  }
  return undefined;
}

function applyAt(doc: Doc, op: Op, p: Path, text: string, raw: unknown): void {
  checkWritable(p, text);
  const { path } = p;
  const attr = path.attr;
  if (op === 'remove' && !p.filter) {
    const container = containerOf(doc, path, false);
    if (!container) return;
    if (path.sub) {
      const value = container[attr.name];
      if (isObject(value)) delete value[path.sub.name];
      else if (Array.isArray(value)) for (const e of value) if (isObject(e)) delete e[path.sub.name];
    } else if (attr.multiValued && raw !== undefined && raw !== null) {
      // Entra ID removes members by naming them in `value` (not RFC 7644, which would use a value filter).
      const key = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
      const named = new Set((Array.isArray(raw) ? raw : [raw]).map((v: unknown) => key(isObject(v) ? v.value : v)));
      const current = Array.isArray(container[attr.name]) ? (container[attr.name] as Doc[]) : [];
      container[attr.name] = current.filter((e) => !named.has(key(e.value)));
    } else {
      if (attr.required) throw invalidValue(`${attr.name} is required and cannot be removed.`);
      delete container[attr.name];
    }
    tidy(doc, path);
    return;
  }
  if (p.filter) {
    const container = containerOf(doc, path, op !== 'remove');
    const current = container && Array.isArray(container[attr.name]) ? (container[attr.name] as Doc[]) : [];
    const matched = current.filter((e) => elementMatches(p.filter!, e));
    if (op === 'remove') {
      if (p.subAfter) for (const e of matched) delete e[p.subAfter.name];
      else if (container) container[attr.name] = current.filter((e) => !matched.includes(e));
      if (container) tidy(doc, path);
      return;
    }
    if (matched.length === 0) {
      // RFC 7644 §3.5.2.3: a replace whose value filter matches nothing is `noTarget`. An add through a
      // filter of equalities creates the element it describes (Okta and Entra ID add `emails[type eq "work"].value`).
      const base = op === 'add' ? equalities(p.filter) : undefined;
      if (!base) throw noTarget(`${text} matched no value.`);
      const element = p.subAfter ? { ...base, [p.subAfter.name]: raw } : { ...base, ...(isObject(raw) ? raw : {}) };
      const n = normalizeValue({ ...attr, multiValued: false }, element, text) as Doc | undefined;
      if (n) {
        current.push(n);
        keepOnePrimary(current, [n]);
        container![attr.name] = current;
      }
      return;
    }
    for (const e of matched) {
      if (p.subAfter) {
        assign(e, p.subAfter.name, normalizeValue(p.subAfter, raw, text));
      } else {
        const n = (normalizeValue({ ...attr, multiValued: false }, raw, text) ?? {}) as Doc;
        if (op === 'replace') for (const k of Object.keys(e)) delete e[k];
        Object.assign(e, n);
      }
    }
    keepOnePrimary(current, matched);
    container![attr.name] = current.filter((e) => Object.keys(e).length > 0);
    tidy(doc, path);
    return;
  }
  const container = containerOf(doc, path, true)!;
  if (path.sub) {
    if (attr.multiValued) throw invalidPath(`${text}: select the values with a filter (${attr.name}[…].${path.sub.name}).`);
    const value = isObject(container[attr.name]) ? (container[attr.name] as Doc) : {};
    assign(value, path.sub.name, normalizeValue(path.sub, raw, text));
    container[attr.name] = value;
  } else if (attr.multiValued) {
    const values = (normalizeValue(attr, raw, text) ?? []) as Doc[];
    if (op === 'replace') {
      assign(container, attr.name, values.length > 0 ? values : undefined);
    } else {
      const current = Array.isArray(container[attr.name]) ? (container[attr.name] as Doc[]) : [];
      const seen = new Set(current.map((e) => JSON.stringify(e)));
      const added = values.filter((v) => !seen.has(JSON.stringify(v)));
      current.push(...added);
      keepOnePrimary(current, added);
      container[attr.name] = current;
    }
  } else if (attr.type === 'complex') {
    // RFC 7644 §3.5.2.1/§3.5.2.3: the given sub-attributes replace or add; the others stay.
    const n = normalizeValue(attr, raw, text) as Doc | undefined;
    const value = isObject(container[attr.name]) ? (container[attr.name] as Doc) : {};
    container[attr.name] = { ...value, ...(n ?? {}) };
  } else {
    const n = normalizeValue(attr, raw, text);
    if (n === undefined && attr.required) throw invalidValue(`${attr.name} is required.`);
    assign(container, attr.name, n);
  }
  tidy(doc, path);
}

/** A path-less add/replace: each member of the value object is an attribute path (RFC 7644 §3.5.2.1). */
function applyPathless(resource: ResourceSchema, doc: Doc, op: Op, value: unknown): void {
  if (!isObject(value)) throw invalidValue('An operation without "path" needs an object value.');
  for (const [key, v] of Object.entries(value)) {
    const extension = extensionNamed(resource, key);
    if (extension && isObject(v)) {
      for (const [k, inner] of Object.entries(v)) applyOne(resource, doc, op, `${extension.id}:${k}`, inner, true);
    } else {
      applyOne(resource, doc, op, key, v, true);
    }
  }
}

function applyOne(resource: ResourceSchema, doc: Doc, op: Op, text: string, value: unknown, lenient: boolean): void {
  let p: Path;
  try {
    p = parsePatchPath(resource, text);
  } catch (error) {
    // Members of a path-less value that the schema lacks are ignored, as unknown attributes of a POST are.
    if (lenient && !text.includes('[')) return;
    throw error;
  }
  if (lenient && (p.path.attr.name === 'id' || p.path.attr.name === 'meta' || p.path.attr.name === 'schemas')) return;
  applyAt(doc, op, p, text, value);
}

/** Applies a PatchOp message to a copy of `doc`; the copy is returned. */
export function applyPatch(resource: ResourceSchema, doc: Doc, body: unknown): Doc {
  if (!isObject(body)) throw syntax('The body must be a PatchOp message.');
  const schemas = body.schemas;
  if (Array.isArray(schemas) && !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP.toLowerCase())) {
    throw syntax(`schemas must contain ${PATCH_OP}.`);
  }
  const operations = body.Operations ?? body.operations;
  if (!Array.isArray(operations) || operations.length === 0) throw syntax('Operations must be a non-empty array.');
  if (operations.length > MAX_OPERATIONS) throw new AppError(ScimErrors['scim.too_many'], { message: `At most ${MAX_OPERATIONS} operations per request.` });
  const out = structuredClone(doc);
  for (const [i, operation] of operations.entries()) {
    if (!isObject(operation)) throw syntax(`Operations[${i}] must be an object.`);
    const op = typeof operation.op === 'string' ? operation.op.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw syntax(`Operations[${i}].op must be add, replace or remove.`);
    const path = operation.path;
    if (path !== undefined && path !== null && (typeof path !== 'string' || path.trim() === '')) throw invalidPath(`Operations[${i}].path must be a non-empty string.`);
    if (typeof path !== 'string') {
      if (op === 'remove') throw noTarget(`Operations[${i}]: remove needs a path (RFC 7644 §3.5.2.2).`);
      applyPathless(resource, out, op, operation.value);
    } else {
      if (op !== 'remove' && !('value' in operation)) throw invalidValue(`Operations[${i}]: ${op} needs a value.`);
      applyOne(resource, out, op, path, operation.value, false);
    }
  }
  return out;
}
