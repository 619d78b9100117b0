import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { JwksSchema } from './keys.schema.js';
import type { KeysService } from './keys.service.js';

export function keysRoutes(keys: KeysService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          tags: ['keys'],
          summary: 'Public keys that verify the tokens this server issues',
          description: 'The current signing key and retired ones whose tokens may still be valid (RFC 7517).',
          response: { 200: JwksSchema },
        },
      },
      async (_request, reply) => {
        // Short cache: verifiers re-fetch on an unknown kid anyway, and a rotation is seen within a minute.
        reply.header('cache-control', 'public, max-age=60');
        return (await keys.jwks()) as unknown as z.infer<typeof JwksSchema>;
      },
    );
  };
}
