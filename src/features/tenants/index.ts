export { createTenantsService, securitySettings, type TenantsService } from './tenants.service.js';
export {
  emailDomainAllowed,
  SECURITY_DEFAULTS,
  type SecuritySettings,
  SecuritySettingsPatch,
  SecuritySettingsSchema,
} from './security-settings.js';
export { tenantsRoutes } from './tenants.routes.js';
export { createOrganizationsService, type OrganizationsService } from './organizations.service.js';
export { organizationsRoutes } from './organizations.routes.js';
export { accountNames, accountNamesIn, authzEpochOf, linkedAccountNames, bumpAuthzEpoch, lockAccounts, organizationExists, organizationsOf, tenantLinkedToAccount } from './accounts.store.js';
export { allTenantIds, listAccounts as tenantAccounts } from './tenants.store.js';
