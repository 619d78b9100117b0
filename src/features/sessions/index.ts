export { createSessions, type SessionsService } from './sessions.service.js';
export { createGuessThrottle, type GuessThrottle } from './guess-throttle.js';
export { sessionsRoutes } from './sessions.routes.js';
export { SessionErrors } from './sessions.errors.js';
export type { MfaPort, RequestMeta, SecurityPolicyReader, SessionAuth } from './sessions.ports.js';
export type { SessionUser } from './session-state.js';
