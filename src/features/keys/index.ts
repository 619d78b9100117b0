export { createKeysService, type KeysService, type SigningKey, type VerificationKey, type RewrapReport } from './keys.service.js';
export { keysRoutes } from './keys.routes.js';
export { dataKeyStore } from './keys.store.js';
