export { createRbacService, type RbacService } from './rbac.service.js';
export { rbacRoutes } from './rbac.routes.js';
export { ACCOUNT_ADMIN } from './system-roles.js';
export { RbacErrors } from './rbac.errors.js';
export { withAccountAdminsKept } from './account-admins.js';
export { CatalogBody as CatalogFile } from './rbac.schema.js';
export { shortfall, takeoverShortfall, type Grant, type GrantRule, type Granter, type Shortfall } from './grant-rule.js';
export type { CheckContext } from './access.service.js';
export { enterableAccounts } from './enterable-accounts.js';
