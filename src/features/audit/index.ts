export { createAudit, type Audit } from './audit.service.js';
export type { AuditActor, AuditEventInput, AuditRecorder, GlobalAuditRecorder } from './audit.types.js';
