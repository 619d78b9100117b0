export { createIdentityService, type IdentityService } from './identity.service.js';
