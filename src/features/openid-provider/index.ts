export { createOpenIdProvider, accountIdOf, parseAccountId, type OpenIdProviderDeps, type OpenIdProviderService } from './openid-provider.service.js';
export { openIdProviderRoutes } from './openid-provider.routes.js';
export { OpenIdProviderErrors } from './openid-provider.errors.js';
export { OP_PATH, OP_ROUTES } from './provider-config.js';
