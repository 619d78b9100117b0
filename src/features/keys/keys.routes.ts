import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { JwksSchema } from './keys.schema.js';
import type { KeysService } from './keys.service.js';

export function keysRoutes(keys: KeysService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/.well-known/jwks.json',
      {
        // Fetched constantly by verifiers; logged only when something goes wrong.
        logLevel: 'warn',
        schema: {
          tags: ['keys'],
          summary: 'Public keys that verify the tokens this server issues',
          description: 'The current signing key and retired ones whose tokens may still be valid (RFC 7517).',
          response: { 200: JwksSchema, 304: z.null().describe('Not modified (If-None-Match matched the ETag)') },
        },
      },
      async (request, reply) => {
        const { body, etag } = await keys.jwksDocument();
        // Short cache: verifiers re-fetch on an unknown kid anyway, and a rotation is seen within a minute.
        reply.header('cache-control', 'public, max-age=60').header('etag', etag);
        if (request.headers['if-none-match'] === etag) return reply.code(304).send(null);
        // Serialized once per key-set load (checked against JwksSchema by the keys tests) and sent as is:
        // the typed reply expects the object, so the pre-serialized string goes through the untyped one.
        return (reply as unknown as FastifyReply).type('application/json; charset=utf-8').send(body);
      },
    );
  };
}
