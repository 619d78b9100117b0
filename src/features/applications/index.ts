export { createApplicationsService, parseClientId, type Application, type ApplicationsDeps, type ApplicationsService, type ProviderClient } from './applications.service.js';
export { applicationsRoutes } from './applications.routes.js';
export { ApplicationsErrors } from './applications.errors.js';
export { isLoopbackHost } from './redirect-uris.js';
