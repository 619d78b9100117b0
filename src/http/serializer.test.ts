import { isResponseSerializationError, serializerCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { flatObjectSerializer, responseSerializerCompiler } from './serializer.js';

// Rule: the compiled response serializer writes exactly what fastify-type-provider-zod's serializer writes (the zod
// parse, then JSON.stringify), and refuses exactly what it refuses; schemas it cannot match exactly are left to zod.
// The shape of GET /api/v1/me's `User` (identity.schema.ts; http/ may not import a feature's files).
const UserSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string().nullable(),
  phone: z.string().nullable(),
  active: z.boolean(),
  isTenantAdmin: z.boolean(),
  mustChangePassword: z.boolean(),
  hasPassword: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
const route = (schema: z.ZodType) => ({ schema, method: 'GET', url: '/t', httpStatus: '200' }) as never;
const zodOf = (schema: z.ZodType) => serializerCompiler(route(schema)) as (data: unknown) => string;
const compiledOf = (schema: z.ZodType) => {
  const compiled = flatObjectSerializer(schema, zodOf(schema));
  expect(compiled).toBeDefined();
  return compiled!;
};
const outcome = (serialize: (data: unknown) => string, data: unknown) => {
  try {
    return { ok: serialize(data) };
  } catch (error) {
    return { refused: isResponseSerializationError(error) };
  }
};

const user = {
  id: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  email: 'ada@example.com',
  name: 'Ada',
  phone: null,
  active: true,
  isTenantAdmin: false,
  mustChangePassword: false,
  hasPassword: true,
  createdAt: '2026-12-07T06:38:30.123Z',
  updatedAt: '2026-12-07T06:38:31Z',
};

describe('the compiled response serializer', () => {
  it('writes the bytes zod writes, members in schema order, unknown members left out', () => {
    const compiled = compiledOf(UserSchema);
    const zod = zodOf(UserSchema);
    const awkward = ['', 'quote " backslash \\ slash /', 'line\nbreak\ttab\u0001\u001f', 'é 日本 😀', '\u2028\u2029', 'lone \ud800 surrogate', '</script>'];
    const samples = [
      user,
      { extra: 'dropped', ...Object.fromEntries(Object.entries(user).reverse()), password: 'never shown' },
      ...awkward.map((s) => ({ ...user, email: s, name: s, phone: s })),
      { ...user, active: false, isTenantAdmin: true, name: null },
    ];
    for (const sample of samples) expect(compiled(sample)).toBe(zod(sample));
  });

  it('writes numbers as zod does', () => {
    const schema = z.object({ n: z.number(), m: z.number().nullable() });
    const compiled = compiledOf(schema);
    for (const n of [0, -0, 1.5, -2, 1e21, 5e-324, Number.MAX_SAFE_INTEGER]) expect(compiled({ n, m: n })).toBe(zodOf(schema)({ n, m: n }));
  });

  it('refuses what zod refuses (a bad format, a wrong type, a missing member, a non-object)', () => {
    const compiled = compiledOf(UserSchema);
    const zod = zodOf(UserSchema);
    const bad: unknown[] = [
      { ...user, id: 'not-a-uuid' },
      { ...user, createdAt: '2026-12-07 06:38:30' },
      { ...user, createdAt: new Date() },
      { ...user, active: 'true' },
      { ...user, name: undefined },
      { ...user, email: 1 },
      (({ phone: _phone, ...rest }) => rest)(user),
      [user],
      null,
      'text',
    ];
    for (const data of bad) {
      expect(outcome(zod, data)).toEqual({ refused: true });
      expect(outcome(compiled, data)).toEqual({ refused: true });
    }
    const numbers = z.object({ n: z.number() });
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY, '1']) expect(outcome(compiledOf(numbers), { n })).toEqual({ refused: true });
  });

  it('leaves to zod every schema whose parse does more than a test (transforms, defaults, checks, coercion, strict objects)', () => {
    const zodOnly = [
      z.object({ a: z.string().transform((s) => s.toUpperCase()) }),
      z.object({ a: z.string().optional() }),
      z.object({ a: z.string().default('x') }),
      z.object({ a: z.string().min(2) }),
      z.object({ a: z.email() }),
      z.object({ a: z.coerce.string() }),
      z.object({ a: z.int() }),
      z.object({ a: z.enum(['x', 'y']) }),
      z.object({ a: z.object({ b: z.string() }) }),
      z.object({ a: z.string() }).refine(() => false),
      z.strictObject({ a: z.string() }),
      z.looseObject({ a: z.string() }),
      z.array(z.string()),
      z.null(),
      z.object({}),
    ];
    for (const schema of zodOnly) expect(flatObjectSerializer(schema, () => '')).toBeUndefined();
  });

  it('is what the server compiles for a route, the wrapped form included', () => {
    const wrapped = responseSerializerCompiler({ ...(route(UserSchema) as object), schema: { properties: UserSchema } } as never) as (data: unknown) => string;
    expect(wrapped({ ...user, extra: 1 })).toBe(JSON.stringify(user));
    const direct = responseSerializerCompiler(route(UserSchema)) as (data: unknown) => string;
    expect(outcome(direct, { ...user, id: 'x' })).toEqual({ refused: true });
  });
});
