import { generatePassword } from '../../crypto/random.js';
import { advisoryXactLock } from '../../db/advisory-lock.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import type { AuditRecorder } from '../audit/index.js';
import type { IdentityService } from '../identity/index.js';
import type { RbacService } from '../rbac/index.js';
import type { TenantsService } from '../tenants/index.js';
import { BootstrapErrors } from './bootstrap.errors.js';
import { BootstrapInput } from './bootstrap.schema.js';

export interface BootstrapResult {
  readonly tenantId: string;
  readonly accountId: string;
  readonly userId: string;
  readonly roleId: string;
  readonly email: string;
  /** Present only when it was generated: shown once, then only its hash exists. */
  readonly generatedPassword?: string;
}

export interface BootstrapDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly tenants: TenantsService;
  readonly identity: IdentityService;
  readonly rbac: RbacService;
  readonly audit: AuditRecorder;
}

// Same lock for every instance: two servers starting on an empty database bootstrap once.
const BOOTSTRAP_LOCK = 7_430_117_002;

export function createBootstrapService({ db, clock, tenants, identity, rbac, audit }: BootstrapDeps) {
  async function setUp(tx: Tx, tenantId: string, input: BootstrapInput): Promise<BootstrapResult> {
    const parsed = BootstrapInput.safeParse(input);
    if (!parsed.success) {
      throw new AppError(BootstrapErrors['bootstrap.invalid_input'], { message: parsed.error.issues.map((i) => i.message).join('; ') });
    }
    const { tenantName, accountName, email, password } = parsed.data;
    const generatedPassword = password === undefined ? generatePassword() : undefined;
    const { accountId } = await tenants.createTenantWithAccount(tx, tenantId, { tenantName, accountName });
    const { accountAdminRoleId } = await rbac.ensureSystemRoles(tx, accountId);
    const user = await identity.createUser(tx, tenantId, {
      email,
      name: 'Administrator',
      password: password ?? generatedPassword,
      // A generated password is one-time: the first login must replace it.
      mustChangePassword: generatedPassword !== undefined,
      isTenantAdmin: true,
    });
    const assignment = await rbac.assignRoleToUser(tx, tenantId, { accountId, roleId: accountAdminRoleId, userId: user.id });
    // DESIGN §4 and §6 rule 7: every privileged action leaves its event in the same transaction, the first ones included.
    const actor = { type: 'system', id: 'bootstrap' } as const;
    const events = [
      { action: 'tenant.created', target: { type: 'tenant', id: tenantId }, details: { name: tenantName } },
      { action: 'account.created', target: { type: 'account', id: accountId }, details: { name: accountName } },
      { action: 'user.created', target: { type: 'user', id: user.id }, details: { email, isTenantAdmin: true, hasPassword: true } },
      {
        action: 'role_assignment.created',
        target: { type: 'role_assignment', id: assignment.id },
        details: { accountId, roleId: accountAdminRoleId, role: 'Account Administrator', userId: user.id },
      },
    ];
    for (const e of events) await audit.record(tx, tenantId, { ...e, actor, outcome: 'success' });
    return { tenantId, accountId, userId: user.id, roleId: accountAdminRoleId, email, ...(generatedPassword ? { generatedPassword } : {}) };
  }

  return {
    /** Creates a tenant, an account, and an administrator holding Account Administrator and tenant-admin status. */
    async bootstrap(input: BootstrapInput): Promise<BootstrapResult> {
      const tenantId = newId(clock.now().getTime());
      return db.tenantWork(tenantId, (tx) => setUp(tx, tenantId, input));
    },

    /** The first start's setup: runs only on a database without tenants. Returns undefined when already done. */
    async bootstrapIfEmpty(input: BootstrapInput): Promise<BootstrapResult | undefined> {
      return db.ownerWork(async (tx) => {
        await advisoryXactLock(tx, BOOTSTRAP_LOCK);
        if ((await tenants.countAllTenants(tx)) > 0) return undefined;
        const tenantId = newId(clock.now().getTime());
        await db.enterTenant(tx, tenantId);
        return setUp(tx, tenantId, input);
      });
    },
  };
}

export type BootstrapService = ReturnType<typeof createBootstrapService>;
