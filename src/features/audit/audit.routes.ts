import { Readable } from 'node:stream';
import { z } from 'zod';
import { defineRoute, RawBody, type Route } from '../../http/route.js';
import { EXPORT_CONTENT_TYPES } from './audit-export.js';
import { ExportQuery, ListEventsQuery, ListEventsResponse, VerifyResponse } from './audit.schema.js';
import type { Audit } from './audit.service.js';

const tags = ['audit'];

export function auditRoutes(audit: Audit): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/events',
      auth: { permission: 'audit.view' },
      schema: {
        tags,
        summary: "The tenant's audit events, newest first",
        description: 'Filters combine with AND. Page with `cursor` = the previous page\'s `nextCursor`. Needs `audit.view`.',
        querystring: ListEventsQuery,
        response: { 200: ListEventsResponse },
      },
      handler: (ctx) => {
        const { cursor, limit, ...filters } = ctx.input.query;
        return audit.listEvents(ctx.tenantId, { filters, cursor, limit });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/export',
      auth: { permission: 'audit.export' },
      headers: { 'cache-control': 'no-store' },
      schema: {
        tags,
        summary: 'Export audit events (ndjson, json or csv), oldest first, streamed',
        description:
          'Streams with constant memory. CSV cells that a spreadsheet would take for a formula (= + - @ tab CR, or a leading quote) are prefixed with a single quote. Needs `audit.export`.',
        querystring: ExportQuery,
        response: { 200: z.string().describe('The events in the requested format') },
      },
      handler: (ctx) => {
        const { format, ...filters } = ctx.input.query;
        ctx.reply.header('content-disposition', `attachment; filename="audit-events.${format}"`);
        return Promise.resolve(new RawBody(Readable.from(audit.exportEvents(ctx.tenantId, format, filters), { objectMode: false }), EXPORT_CONTENT_TYPES[format]));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/verify',
      auth: { permission: 'audit.view' },
      schema: {
        tags,
        summary: "Recompute the tenant's hash chain and report the first event where it breaks",
        description: 'Detects any edited, deleted, inserted or reordered event. Needs `audit.view`.',
        response: { 200: VerifyResponse },
      },
      handler: (ctx) => audit.verify(ctx.tenantId),
    }),
  ];
}
