export { createHealthService, type HealthService } from './health.service.js';
export { healthRoutes } from './health.routes.js';
