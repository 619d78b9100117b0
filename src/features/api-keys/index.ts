export { createApiKeysService, looksLikeApiKey, type ApiKeyInfo, type ApiKeysDeps, type ApiKeysService } from './api-keys.service.js';
export { apiKeysRoutes } from './api-keys.routes.js';
export { ApiKeysErrors } from './api-keys.errors.js';
