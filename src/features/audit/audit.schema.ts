import { z } from 'zod';
import { EXPORT_FORMATS } from './audit-export.js';

export const AuditEventSchema = z
  .object({
    tenantId: z.string(),
    seq: z.number().int().describe('Position in the tenant chain, from 1, without gaps.'),
    occurredAt: z.string().describe('ISO 8601 UTC with microseconds; never decreases within a chain.'),
    actor: z.object({
      type: z.string().describe('user, api_key, scim_directory or system'),
      id: z.string().nullable(),
      email: z.string().nullable(),
      ip: z.string().nullable(),
      userAgent: z.string().nullable(),
    }),
    action: z.string().describe('Stable dotted name, e.g. auth.login.succeeded'),
    target: z.object({ type: z.string(), id: z.string() }).nullable(),
    outcome: z.enum(['success', 'failure']),
    errorCode: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    prevHash: z.string().describe('Hash of the previous event (64 zeros for the first).'),
    hash: z.string().describe('SHA-256 (hex) over the canonical JSON of this event and prevHash.'),
  })
  .meta({ id: 'AuditEvent' });

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const AuditFiltersSchema = z.object({
  from: isoDate.optional().describe('Events at or after this instant (ISO 8601).'),
  to: isoDate.optional().describe('Events before this instant (ISO 8601).'),
  actor: z.string().min(1).max(320).optional().describe('Actor id, or actor email (contains @).'),
  action: z
    .string()
    .regex(/^[a-z0-9_.]{1,200}$/, 'action is a dotted name or prefix')
    .optional()
    .describe('An action name, or a prefix: `auth.login` matches auth.login and auth.login.*; a trailing dot matches any continuation.'),
  targetType: z.string().min(1).max(100).optional(),
  targetId: z.string().min(1).max(200).optional(),
  outcome: z.enum(['success', 'failure']).optional(),
});

export const ListEventsQuery = AuditFiltersSchema.extend({
  cursor: z.string().max(100).optional().describe('nextCursor of the previous page.'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const ListEventsResponse = z.object({ events: z.array(AuditEventSchema), nextCursor: z.string().nullable() }).meta({ id: 'AuditEventPage' });

export const ExportQuery = AuditFiltersSchema.extend({ format: z.enum(EXPORT_FORMATS).default('ndjson') });

export const VerifyResponse = z
  .object({
    ok: z.boolean(),
    start: z.object({ seq: z.number().int(), hash: z.string() }).describe('Retention checkpoint the chain starts from (seq 0: the genesis).'),
    checked: z.number().int(),
    lastSeq: z.number().int(),
    lastHash: z.string(),
    break: z
      .object({
        seq: z.number().int(),
        reason: z.enum(['hash_mismatch', 'prev_hash_mismatch', 'sequence_gap', 'time_reversed', 'head_mismatch']),
      })
      .nullable()
      .describe('The first event where the chain breaks; null when it verifies.'),
  })
  .meta({ id: 'AuditVerifyReport' });

const AuditSettingsFields = {
  retentionDays: z.number().int().describe('Events older than this many days are removed by the retention job (a checkpoint keeps the chain verifiable).'),
  defaultRetentionDays: z.number().int().describe('The retention of a tenant that never changed it (2557 days, 7 years).'),
  minRetentionDays: z.number().int().describe('The shortest retention the API accepts; shorter is set by the operator (`tessera audit retention`).'),
  maxRetentionDays: z.number().int(),
  webhook: z
    .object({ url: z.string().describe('The receiving URL without its query string.') })
    .nullable()
    .describe('The SIEM webhook every new event is POSTed to, signed with HMAC-SHA256; null: none. The signing secret is never readable.'),
};
export const AuditSettingsSchema = z.object(AuditSettingsFields).meta({ id: 'AuditSettings' });
export const AuditSettingsUpdated = z
  .object({
    ...AuditSettingsFields,
    webhookSecret: z.string().nullable().describe('The new signing secret when this request set the webhook, shown this once; null otherwise.'),
  })
  .meta({ id: 'AuditSettingsUpdated' });
export const AuditSettingsPatchBody = z
  .strictObject({
    retentionDays: z.number().int().optional().describe('90–36500 days.'),
    webhook: z
      .strictObject({ url: z.string().max(2000).describe('An absolute https:// URL without credentials.') })
      .nullable()
      .optional()
      .describe('Set (with a new signing secret, answered once) or, with null, remove the SIEM webhook.'),
  })
  .meta({ id: 'AuditSettingsPatch' });
