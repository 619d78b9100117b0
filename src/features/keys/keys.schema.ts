import { z } from 'zod';

/** RFC 7517 §5: a JWK Set. Only public members are ever published. */
export const JwkSchema = z
  .object({
    kty: z.enum(['RSA', 'EC', 'OKP']),
    kid: z.string(),
    alg: z.enum(['RS256', 'ES256', 'EdDSA']),
    use: z.literal('sig'),
    n: z.string().optional(),
    e: z.string().optional(),
    crv: z.string().optional(),
    x: z.string().optional(),
    y: z.string().optional(),
  })
  .strict();

export const JwksSchema = z.object({ keys: z.array(JwkSchema) }).meta({ id: 'JSONWebKeySet' });
