export { createDirectoriesService, type DirectoriesDeps, type DirectoriesService } from './directories.service.js';
export { createScimUsersService, type IdentityPort, type ScimUsersService } from './users.service.js';
export { scimDirectoryRoutes, scimError, scimFrame, scimProtocolRoutes } from './scim.routes.js';
export { ScimErrors } from './scim.errors.js';
export type { ScimCaller } from './scim-caller.js';
export { createScimGroupsService, type IdentityGroupsPort, type ScimGroupsService } from './groups.service.js';
export { createRoleMappingsService, type RoleMappingsService } from './role-mappings.service.js';
export { DirectorySchema } from './scim.schema.js';
export type { Directory, TokenInfo } from './directories.service.js';
