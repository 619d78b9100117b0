// Shared set-up of the access-control benchmarks: a user in 50 groups, each group holding 4 of 200 roles
// (the access-control sizing target), on an app built with buildApp.
import type { App } from '../src/app.js';

export const GROUPS = 50;
export const ROLES = 200;

/** Creates the user, roles, groups, memberships and group assignments; returns the user's id. */
export async function seedManyRoles(app: App, created: { tenantId: string; accountId: string; userId: string }, email: string, password: string): Promise<string> {
  const { db } = app;
  const { rbac, identity, groups } = app.services;
  const actor = { type: 'user' as const, id: created.userId };
  const scope = { tenantId: created.tenantId, accountId: created.accountId };
  const user = await db.tenantWork(created.tenantId, (tx) => identity.createUser(tx, created.tenantId, { email, password }));
  const keys = (await rbac.catalog.catalog(created.tenantId, created.accountId)).permissions.map((p) => p.key);
  const roles: string[] = [];
  for (let i = 0; i < ROLES; i++) {
    // Each role holds two keys; none holds roles.view except the last, so a check walks most of them.
    const permissions = i === ROLES - 1 ? ['roles.view'] : [keys[i % keys.length]!, keys[(i + 3) % keys.length]!].filter((k) => k !== 'roles.view');
    roles.push((await rbac.roles.createRole(scope, actor, { name: `Bench role ${i}`, permissions })).id);
  }
  for (let g = 0; g < GROUPS; g++) {
    const group = await groups.createGroup(created.tenantId, actor, { name: `Bench group ${g}` });
    await groups.addMember(created.tenantId, actor, group.id, user.id);
    for (let r = 0; r < ROLES / GROUPS; r++) await rbac.assignments.createAssignment(scope, actor, { roleId: roles[g * (ROLES / GROUPS) + r]!, groupId: group.id });
  }
  return user.id;
}
