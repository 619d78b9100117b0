export { identityRoutes, userActor } from './identity.routes.js';
export { createIdentityService, type IdentityService, type NewUserInput, type OwnRecord, type User, type UserActor, type UserPatch } from './identity.service.js';
export { IdentityErrors } from './identity.errors.js';
export { passwordProblem } from './password-policy.js';
export { findUserRef, userRefs, searchActiveUsers, type UserRef } from './directory.store.js';
