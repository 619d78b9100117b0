// userActor: until the mfa routes are declared with defineRoute (ctx.actor).
export { identityRoutes, userActor } from './identity.routes.js';
export { createIdentityService, type IdentityService, type NewUserInput, type User, type UserActor, type UserPatch } from './identity.service.js';
export type { StampReason, UserEvent, UserEvents } from './user-events.js';
export { IdentityErrors } from './identity.errors.js';
export { passwordProblem } from './password-policy.js';
export { findLoginUser, findLoginUserById, loginTenants, type LoginUser, type LoginUserById } from './login-user.store.js';
export { findUserRef, userRefs, searchActiveUsers, type UserRef } from './directory.store.js';
export { createGroupsService, type GroupAccessRules, type GroupsService } from './groups.service.js';
export { groupsRoutes } from './groups.routes.js';
export { GroupsErrors } from './groups.errors.js';
export { groupRefs, groupsOfUser, searchGroups, type GroupRef } from './groups.store.js';
export type { Takeover, TakeoverAttempt } from './takeover.js';
