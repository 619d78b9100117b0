export { createSetupLinks, CLAIM_IDLE_MS, type SetupLinks, type SetupLinksDeps } from './setup-links.service.js';
export { createSetupFlow, type SetupFlow, type SetupFlowDeps } from './setup-flow.service.js';
export { setupLinksRoutes } from './setup-links.routes.js';
export { SetupLinkErrors } from './setup-links.errors.js';
export { CreateSetupLinkBody, SETUP_INTENTS, DEFAULT_EXPIRES_IN } from './setup-links.schema.js';
