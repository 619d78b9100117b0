import { Readable } from 'node:stream';
import { z } from 'zod';
import { defineRoute, RawBody, type Route } from '../../http/route.js';
import { EXPORT_CONTENT_TYPES } from './audit-export.js';
import type { AuditSettings } from './audit-settings.js';
import { AuditSettingsPatchBody, AuditSettingsSchema, AuditSettingsUpdated, ExportQuery, ListEventsQuery, ListEventsResponse, VerifyResponse } from './audit.schema.js';
import type { Audit } from './audit.service.js';

const tags = ['audit'];

export function auditRoutes(audit: Audit, settings: AuditSettings): Route[] {
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
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/settings',
      auth: { permission: 'audit.view' },
      schema: {
        tags,
        summary: "The tenant's audit retention and SIEM webhook",
        description: 'The webhook URL is shown without its query string; its signing secret is never readable. Needs `audit.view`.',
        response: { 200: AuditSettingsSchema },
      },
      handler: (ctx) => settings.getSettings(ctx.tenantId),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/audit/settings',
      auth: { permission: 'security.manage' },
      headers: { 'cache-control': 'no-store' },
      schema: {
        tags,
        summary: "Change the tenant's audit retention or SIEM webhook",
        description:
          'Tenant administrators with `security.manage`. Fields left out keep their value. Setting the webhook generates a new signing secret, answered once in `webhookSecret`; `webhook: null` removes it. Refused: `audit.invalid_settings` (retention outside 90–36500 days, a URL that is not absolute https:// or carries credentials), `identity.tenant_admin_required`. Audited as `audit.retention.changed`, `audit.webhook.configured`, `audit.webhook.removed`.',
        body: AuditSettingsPatchBody,
        response: { 200: AuditSettingsUpdated },
      },
      handler: (ctx) => settings.updateSettings(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
  ];
}
