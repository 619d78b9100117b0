import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AuthGuards } from '../../http/auth.js';
import { EXPORT_CONTENT_TYPES } from './audit-export.js';
import { ExportQuery, ListEventsQuery, ListEventsResponse, VerifyResponse } from './audit.schema.js';
import type { Audit } from './audit.service.js';

export function auditRoutes(audit: Audit, guards: AuthGuards): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/audit/events',
      {
        preHandler: guards.requirePermission('audit.view'),
        schema: {
          tags: ['audit'],
          summary: "The tenant's audit events, newest first",
          description: 'Filters combine with AND. Page with `cursor` = the previous page\'s `nextCursor`. Needs `audit.view`.',
          querystring: ListEventsQuery,
          response: { 200: ListEventsResponse },
        },
      },
      async (request) => {
        const { cursor, limit, ...filters } = request.query;
        return audit.listEvents(request.auth!.tenantId, { filters, cursor, limit });
      },
    );

    app.get(
      '/api/v1/audit/export',
      {
        preHandler: guards.requirePermission('audit.export'),
        schema: {
          tags: ['audit'],
          summary: 'Export audit events (ndjson, json or csv), oldest first, streamed',
          description:
            'Streams with constant memory. CSV cells that a spreadsheet would take for a formula (= + - @ tab CR, or a leading quote) are prefixed with a single quote. Needs `audit.export`.',
          querystring: ExportQuery,
        },
      },
      async (request, reply) => {
        const { format, ...filters } = request.query;
        const stream = Readable.from(audit.exportEvents(request.auth!.tenantId, format, filters), { objectMode: false });
        return reply
          .header('content-type', EXPORT_CONTENT_TYPES[format])
          .header('content-disposition', `attachment; filename="audit-events.${format}"`)
          .header('cache-control', 'no-store')
          .send(stream);
      },
    );

    app.get(
      '/api/v1/audit/verify',
      {
        preHandler: guards.requirePermission('audit.view'),
        schema: {
          tags: ['audit'],
          summary: "Recompute the tenant's hash chain and report the first event where it breaks",
          description: 'Detects any edited, deleted, inserted or reordered event. Needs `audit.view`.',
          response: { 200: VerifyResponse },
        },
      },
      async (request) => audit.verify(request.auth!.tenantId),
    );
  };
}
