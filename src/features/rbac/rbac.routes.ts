import type { Route } from '../../http/route.js';
import { accessRoutes } from './access.routes.js';
import { assignmentsRoutes } from './assignments.routes.js';
import { catalogRoutes } from './catalog.routes.js';
import type { RbacService } from './rbac.service.js';
import { rolesRoutes } from './roles.routes.js';

/** Access control's routes, one file per resource; each is guarded as README's permission table says. */
export function rbacRoutes(rbac: RbacService): Route[] {
  return [...catalogRoutes(rbac), ...rolesRoutes(rbac), ...assignmentsRoutes(rbac), ...accessRoutes(rbac)];
}
