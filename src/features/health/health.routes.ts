import { defineRoute, type Route } from '../../http/route.js';
import { LivenessSchema, ReadinessSchema } from './health.schema.js';
import type { HealthService } from './health.service.js';

const tags = ['operations'];

export function healthRoutes(health: HealthService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/healthz',
      auth: 'public',
      logLevel: 'warn',
      schema: { tags, summary: 'Liveness: the process is up', response: { 200: LivenessSchema } },
      handler: () => Promise.resolve({ status: 'ok' as const }),
    }),
    defineRoute({
      method: 'GET',
      url: '/readyz',
      auth: 'public',
      logLevel: 'warn',
      headers: { 'cache-control': 'no-store' },
      schema: {
        tags,
        summary: 'Readiness: the database answers and its migrations are current',
        description: '503 while the database is unreachable, migrations are pending, or the server is shutting down.',
        response: { 200: ReadinessSchema, 503: ReadinessSchema },
      },
      handler: async (ctx) => {
        const { ready, checks } = await health.readiness();
        if (!ready) ctx.reply.status(503);
        return { status: ready ? ('ready' as const) : ('not_ready' as const), checks };
      },
    }),
  ];
}
