export { createSessions, type SessionsService } from './sessions.service.js';
export type { SessionEvent } from './session-issuer.js';
export { createGuessThrottle, type GuessThrottle } from './guess-throttle.js';
export { loginAnswerer, sessionsRoutes } from './sessions.routes.js';
export type { AuthenticatedUser, LoginResult } from './login-pipeline.js';
export { LoginResponse } from './sessions.schema.js';
export { SessionErrors } from './sessions.errors.js';
export type { IdentityPort, MfaPort, PasswordLoginSsoPolicy, RequestMeta, SsoPolicyPort, SecurityPolicyReader, SessionAuth, StepUpProof } from './sessions.ports.js';
export { requireRecentAuthentication, STEP_UP_MAX_AGE_SECONDS } from './security-stamp.js';
