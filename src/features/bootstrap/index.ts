export { createBootstrapService, type BootstrapService, type BootstrapResult } from './bootstrap.service.js';
