import { z } from 'zod';
import { defineRoute, RawBody, type Route } from '../../http/route.js';
import { JwksSchema } from './keys.schema.js';
import type { KeysService } from './keys.service.js';

export function keysRoutes(keys: KeysService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/.well-known/jwks.json',
      auth: 'public',
      // Fetched constantly by verifiers; logged only when something goes wrong.
      logLevel: 'warn',
      schema: {
        tags: ['keys'],
        summary: 'Public keys that verify the tokens this server issues',
        description: 'The current signing key and retired ones whose tokens may still be valid (RFC 7517).',
        response: { 200: JwksSchema, 304: z.null().describe('Not modified (If-None-Match matched the ETag)') },
      },
      handler: async (ctx) => {
        const { body, etag } = await keys.jwksDocument();
        // Short cache: verifiers re-fetch on an unknown kid anyway, and a rotation is seen within a minute.
        ctx.reply.header('cache-control', 'public, max-age=60');
        ctx.reply.header('etag', etag);
        if (ctx.headers['if-none-match'] === etag) {
          ctx.reply.status(304);
          return null;
        }
        // Serialized once per key-set load (checked against JwksSchema by the keys tests) and sent as is.
        return new RawBody(body, 'application/json; charset=utf-8');
      },
    }),
  ];
}
