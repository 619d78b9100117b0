import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * OpenAPI 3.1, generated from the same zod schemas that validate requests and responses.
 * `/api/openapi.json` is the document; `/api/docs` a browsable reference.
 */
export async function installOpenApi(app: FastifyInstance, info: { version: string; publicUrl: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera API',
        version: info.version,
        description: 'Identity and access management. Errors use the body {"error": {"code", "message", "requestId"}}; codes are listed in docs/errors.md.',
      },
      servers: [{ url: info.publicUrl }],
      tags: [
        { name: 'operations', description: 'Health and readiness probes' },
        { name: 'keys', description: 'Token signing keys' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true, uiConfig: { deepLinking: false } });
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
}
