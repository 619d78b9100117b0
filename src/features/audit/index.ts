export { createAudit, type Audit } from './audit.service.js';
export type { AuditActor, AuditEventInput, AuditRecorder, GlobalAuditRecorder } from './audit.types.js';
export { auditRoutes } from './audit.routes.js';
export { DEFAULT_RETENTION_DAYS } from './audit-retention.js';
export { EXPORT_FORMATS, type ExportFormat } from './audit-export.js';
export type { VerifyReport } from './audit-query.js';
export { createAuditSettings, type AuditSettings } from './audit-settings.js';
