export { createTenantsService, type TenantsService } from './tenants.service.js';
