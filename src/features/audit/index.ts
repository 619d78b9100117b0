export { createAudit, type Audit } from './audit.service.js';
export { actingUserId, type AuditActor, type AuditEventInput, type AuditRecorder, type ConfiguringActor, type GlobalAuditRecorder } from './audit.types.js';
export { auditRoutes } from './audit.routes.js';
export { DEFAULT_RETENTION_DAYS } from './audit-retention.js';
export { EXPORT_FORMATS, type ExportFormat } from './audit-export.js';
export type { VerifyReport } from './audit-query.js';
export { createAuditSettings, type AuditSettings } from './audit-settings.js';
