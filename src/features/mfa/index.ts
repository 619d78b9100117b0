export { mfaRoutes } from './mfa.routes.js';
export { createMfa, type Enrollment, type LoginFactor, type MfaDeps, type MfaService } from './mfa.service.js';
export { MfaErrors } from './mfa.errors.js';
