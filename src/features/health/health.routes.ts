import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { LivenessSchema, ReadinessSchema } from './health.schema.js';
import type { HealthService } from './health.service.js';

export function healthRoutes(health: HealthService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/healthz',
      {
        logLevel: 'warn',
        schema: { tags: ['operations'], summary: 'Liveness: the process is up', response: { 200: LivenessSchema } },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        logLevel: 'warn',
        schema: {
          tags: ['operations'],
          summary: 'Readiness: the database answers and its migrations are current',
          description: '503 while the database is unreachable, migrations are pending, or the server is shutting down.',
          response: { 200: ReadinessSchema, 503: ReadinessSchema },
        },
      },
      async (_request, reply) => {
        const { ready, checks } = await health.readiness();
        reply.header('cache-control', 'no-store');
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
      },
    );
  };
}
