export { createRbacService, type RbacService } from './rbac.service.js';
export { ACCOUNT_ADMIN } from './system-roles.js';
