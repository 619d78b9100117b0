import type { FastifySerializerCompiler } from 'fastify';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import type { z } from 'zod';

/** One member of a flat response object: its JSON name with the colon, and the test its value must pass. */
interface Field {
  readonly key: string;
  readonly prefix: string;
  readonly accepts: (value: unknown) => boolean;
}

/** The zod internals read here (zod 4's `_zod.def`, the same definition `z.toJSONSchema` walks). */
interface Def {
  readonly type: string;
  readonly shape?: Readonly<Record<string, { readonly _zod: { readonly def: Def } }>>;
  readonly catchall?: unknown;
  readonly checks?: readonly unknown[];
  readonly coerce?: boolean;
  readonly format?: string;
  readonly check?: string;
  readonly pattern?: RegExp;
  readonly innerType?: { readonly _zod: { readonly def: Def } };
}

/** String formats whose whole check is their pattern (zod 4 `$ZodStringFormat`: `pattern.test(value)`). */
const PATTERN_FORMATS = new Set(['uuid', 'datetime']);

/** The test zod's parse applies to one value of `def`, or undefined when it does more than a test (transforms, refinements …). */
function testOf(def: Def): ((value: unknown) => boolean) | undefined {
  if (def.checks?.length || def.coerce) return undefined;
  switch (def.type) {
    case 'string': {
      if (def.format === undefined) return (v) => typeof v === 'string';
      const pattern = def.pattern;
      if (!PATTERN_FORMATS.has(def.format) || def.check !== 'string_format' || !(pattern instanceof RegExp) || pattern.global || pattern.sticky) return undefined;
      return (v) => typeof v === 'string' && pattern.test(v);
    }
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'number':
      return def.format === undefined ? (v) => typeof v === 'number' && Number.isFinite(v) : undefined;
    case 'nullable': {
      const inner = def.innerType && testOf(def.innerType._zod.def);
      return inner && ((v) => v === null || inner(v));
    }
    default:
      return undefined;
  }
}

/**
 * A serializer for a flat object schema (strings, pattern formats, booleans, finite numbers, their nullable forms;
 * unknown members stripped), or undefined for any other schema. It writes what the zod serializer writes
 * (`JSON.stringify` of the parsed object: the schema's members in the schema's order) without building the parsed
 * copy; a body the fast path does not accept goes to the zod serializer, so refusals are exactly zod's.
 */
export function flatObjectSerializer(schema: z.ZodType, fallback: (data: unknown) => string): ((data: unknown) => string) | undefined {
  const def = (schema as unknown as { _zod?: { def?: Def } })._zod?.def;
  if (def?.type !== 'object' || !def.shape || def.catchall !== undefined || def.checks?.length) return undefined;
  const fields: Field[] = [];
  for (const [key, member] of Object.entries(def.shape)) {
    const accepts = testOf(member._zod.def);
    if (!accepts) return undefined;
    fields.push({ key, prefix: `${fields.length === 0 ? '{' : ','}${JSON.stringify(key)}:`, accepts });
  }
  if (fields.length === 0) return undefined;
  return (data) => {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return fallback(data);
    const record = data as Record<string, unknown>;
    let out = '';
    for (const field of fields) {
      const value = record[field.key];
      if (!field.accepts(value)) return fallback(data);
      out += field.prefix + (typeof value === 'string' ? JSON.stringify(value) : String(value));
    }
    return `${out}}`;
  };
}

/**
 * The response serializer: fastify-type-provider-zod's (parse with the route's zod schema, then `JSON.stringify`),
 * compiled ahead for flat object schemas (the authenticated hot path's `GET /api/v1/me`, DESIGN §3: per-request
 * work kept to what the request needs). The zod parse and the copy it builds were ~4 % of that request.
 */
export const responseSerializerCompiler: FastifySerializerCompiler<z.ZodType> = (route) => {
  const zod = zodSerializerCompiler(route) as (data: unknown) => string;
  // The provider also takes a schema wrapped as `{ properties: schema }`.
  const schema = route.schema as z.ZodType | { readonly properties?: z.ZodType };
  const resolved = '_zod' in schema ? schema : schema.properties;
  return (resolved && flatObjectSerializer(resolved, zod)) ?? zod;
};
