import { AppError } from '../../kernel/app-error.js';
import { ScimErrors } from './scim.errors.js';
import { type AttrDef, extensionNamed, type ResourceSchema, resolvePath } from './scim-schema.js';

/**
 * A resource's writable document in canonical form: attribute names as the schema spells them (RFC 7643 §2.1:
 * names are case-insensitive on input), extension attributes inside an object keyed by the extension's URN,
 * values of the attribute's type, and no unassigned values (RFC 7643 §2.5: null, "" and [] mean unassigned).
 * Read-only attributes (`id`, `meta`) are not part of it; write-only ones (`password`) are dropped.
 */
export type Doc = Record<string, unknown>;

export const invalidValue = (message: string) => new AppError(ScimErrors['scim.invalid_value'], { message });

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Longest string value accepted in any attribute. */
const MAX_STRING = 2048;
/** Most values of one multi-valued attribute. */
const MAX_VALUES = 100;

function findDef(list: readonly AttrDef[], name: string): AttrDef | undefined {
  const lower = name.toLowerCase();
  return list.find((a) => a.name.toLowerCase() === lower);
}

/**
 * One value of `def` in canonical form, or undefined when unassigned. Lenient where IdPs are known to differ
 * from the RFC and the meaning is unambiguous: Entra ID sends booleans as the strings "True"/"False", some
 * clients send numbers for string attributes.
 */
export function normalizeValue(def: AttrDef, value: unknown, where: string): unknown {
  if (value === null || value === undefined) return undefined;
  if (def.multiValued) {
    const list = Array.isArray(value) ? value : [value];
    const max = def.maxValues ?? MAX_VALUES;
    if (list.length > max) throw new AppError(ScimErrors['scim.too_many'], { message: `${where}: at most ${max} values.` });
    const out = list.map((v, i) => normalizeSingle(def, v, `${where}[${i}]`)).filter((v) => v !== undefined);
    if (def.type === 'complex' && out.filter((v) => (v as Doc).primary === true).length > 1) {
      throw invalidValue(`${where}: "primary" may be true for one value only (RFC 7643 §2.4).`);
    }
    return out.length > 0 ? out : undefined;
  }
  if (Array.isArray(value)) throw invalidValue(`${where}: a single value is expected.`);
  return normalizeSingle(def, value, where);
}

function normalizeSingle(def: AttrDef, value: unknown, where: string): unknown {
  if (value === null || value === undefined) return undefined;
  switch (def.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      throw invalidValue(`${where}: a boolean is expected.`);
    case 'complex': {
      // Entra ID sends a reference such as the enterprise `manager` as its bare id: it is the `value`.
      if ((typeof value === 'string' || typeof value === 'number') && def.subAttributes?.some((s) => s.name === 'value') && !def.multiValued) {
        return normalizeSingle(def, { value }, where);
      }
      if (!isObject(value)) throw invalidValue(`${where}: an object is expected.`);
      const out: Doc = {};
      for (const [key, v] of Object.entries(value)) {
        const sub = findDef(def.subAttributes ?? [], key);
        if (!sub || sub.mutability === 'readOnly') continue;
        const n = normalizeValue(sub, v, `${where}.${sub.name}`);
        if (n !== undefined) out[sub.name] = n;
      }
      return Object.keys(out).length > 0 ? out : undefined;
    }
    default: {
      const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      if (typeof text !== 'string') throw invalidValue(`${where}: a string is expected.`);
      if (text.length > MAX_STRING) throw invalidValue(`${where}: at most ${MAX_STRING} characters.`);
      return text === '' ? undefined : text;
    }
  }
}

/** Sets (or, when unassigned, removes) `name` in `container`. */
export function assign(container: Doc, name: string, value: unknown): void {
  if (value === undefined) delete container[name];
  else container[name] = value;
}

/**
 * The canonical document of a full resource as a client sent it (POST, PUT). Unknown attributes are ignored
 * (RFC 7644 §3.3 lets the service provider drop what it does not support); `id`, `meta` and `schemas` are not
 * part of the document.
 */
export function normalizeDocument(resource: ResourceSchema, input: unknown): Doc {
  if (!isObject(input)) throw new AppError(ScimErrors['scim.invalid_syntax'], { message: 'The body must be a JSON object.' });
  const doc: Doc = {};
  for (const [key, value] of Object.entries(input)) {
    const extension = extensionNamed(resource, key);
    if (extension) {
      if (value === null) continue;
      if (!isObject(value)) throw invalidValue(`${extension.id}: an object is expected.`);
      const ext: Doc = {};
      for (const [k, v] of Object.entries(value)) {
        const def = findDef(extension.attributes, k);
        if (!def || def.mutability === 'readOnly') continue;
        assign(ext, def.name, normalizeValue(def, v, `${extension.id}:${def.name}`));
      }
      if (Object.keys(ext).length > 0) doc[extension.id] = ext;
      continue;
    }
    const path = resolvePath(resource, key);
    if (!path || path.sub) continue;
    const def = path.attr;
    if (def.mutability === 'readOnly' || def.mutability === 'writeOnly') continue;
    const n = normalizeValue(def, value, key);
    if (path.schema) {
      const ext = (doc[path.schema] ??= {}) as Doc;
      assign(ext, def.name, n);
    } else {
      assign(doc, def.name, n);
    }
  }
  for (const def of resource.core.attributes) {
    if (def.required && doc[def.name] === undefined) throw invalidValue(`${def.name} is required.`);
  }
  return doc;
}

/** The extensions a document carries, for its `schemas`. */
export function schemasOf(resource: ResourceSchema, doc: Doc): string[] {
  return [resource.core.id, ...resource.extensions.filter((e) => isObject(doc[e.id])).map((e) => e.id)];
}

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): the representation narrowed to the named
 * attributes, or without the excluded ones. `schemas` and `id` (returned "always") always stay. Unknown names
 * are ignored.
 */
export function project(resource: ResourceSchema, representation: Doc, attributes: string | undefined, excluded: string | undefined): Doc {
  const names = (list: string | undefined) => (list ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const wanted = names(attributes).map((n) => resolvePath(resource, n)).filter((p) => p !== undefined);
  const dropped = names(excluded).map((n) => resolvePath(resource, n)).filter((p) => p !== undefined);
  const always = (name: string) => name === 'schemas' || name === 'id';
  if (wanted.length > 0) {
    const out: Doc = {};
    for (const [key, value] of Object.entries(representation)) if (always(key)) out[key] = value;
    for (const p of wanted) {
      const source = p.schema ? (representation[p.schema] as Doc | undefined) : representation;
      const value = source?.[p.attr.name];
      if (value === undefined) continue;
      const target = p.schema ? ((out[p.schema] ??= {}) as Doc) : out;
      if (!p.sub) target[p.attr.name] = value;
      else if (Array.isArray(value)) {
        const sub = p.sub.name;
        const subs = value.filter((e) => isObject(e) && e[sub] !== undefined).map((e) => ({ [sub]: (e as Doc)[sub] }));
        if (subs.length > 0) target[p.attr.name] = subs;
      } else if (isObject(value) && value[p.sub.name] !== undefined) {
        const current = target[p.attr.name];
        target[p.attr.name] = { ...(isObject(current) ? current : {}), [p.sub.name]: value[p.sub.name] };
      }
    }
    return out;
  }
  if (dropped.length === 0) return representation;
  const out: Doc = structuredClone(representation);
  for (const p of dropped) {
    if (!p.schema && always(p.attr.name)) continue;
    const source = p.schema ? (out[p.schema] as Doc | undefined) : out;
    if (!source) continue;
    if (!p.sub) delete source[p.attr.name];
    else {
      const value = source[p.attr.name];
      if (Array.isArray(value)) {
        for (const e of value) if (isObject(e)) delete e[p.sub.name];
      } else if (isObject(value)) {
        delete value[p.sub.name];
      }
    }
  }
  return out;
}
