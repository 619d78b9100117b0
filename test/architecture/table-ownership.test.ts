import { describe, expect, it } from 'vitest';
import { declaredTables, migrationTables, read, sourceFiles, tablesTouched } from './source-scan.js';

/**
 * One owner per table (DESIGN §6 "Three shapes"): only the owner's `*.store.ts` touches a table; another
 * feature asks the owner's index.ts (a function taking `tx` when it must run in the caller's unit of work).
 * The owner also declares the table's Kysely type in its `*.tables.ts`. `db` stands for src/db/ itself.
 */
const OWNERS: Readonly<Record<string, string>> = {
  // tenants: tenants, accounts (with their authorization epoch), account links, organizations, security settings
  tenants: 'tenants',
  accounts: 'tenants',
  account_tenants: 'tenants',
  organizations: 'tenants',
  // keys: the tenants' data keys and the signing keys
  tenant_keys: 'keys',
  signing_keys: 'keys',
  // identity: the principal, and groups of users
  users: 'identity',
  groups: 'identity',
  group_members: 'identity',
  // sessions: sessions, refresh tokens, throttles, used token ids
  sessions: 'sessions',
  refresh_tokens: 'sessions',
  login_throttles: 'sessions',
  used_tokens: 'sessions',
  // mfa: a factor's own records
  user_mfa: 'mfa',
  mfa_recovery_codes: 'mfa',
  // rbac: catalog, templates, roles, assignments
  permission_catalog: 'rbac',
  permission_catalog_versions: 'rbac',
  role_templates: 'rbac',
  roles: 'rbac',
  role_assignments: 'rbac',
  // api-keys: machine credentials
  api_keys: 'api-keys',
  // audit: the chain, its settings, outbox and checkpoints
  audit_events: 'audit',
  audit_heads: 'audit',
  audit_checkpoints: 'audit',
  audit_settings: 'audit',
  audit_outbox: 'audit',
  audit_retention_window: 'audit',
  // db: the migrations ledger (migrator.ts; readiness asks db/migrator.ts)
  tessera_migrations: 'db',
};

/** Tables only SQL functions of the migrations touch: no Kysely type to declare. */
const MIGRATION_ONLY = new Set(['audit_retention_window']);

/**
 * Where things stand before the structure branches merge, each with the slice that fixes it; the lead empties
 * both lists after the merge. Nothing may be added to them.
 */
const NOT_YET_DECLARED_BY_OWNER: Readonly<Record<string, string>> = {
  users: 'identity: move UsersTable from db/schema.ts into identity’s *.tables.ts',
  groups: 'identity: groups move from rbac.tables.ts',
  group_members: 'identity: groups move from rbac.tables.ts',
  api_keys: 'api-keys: moves from rbac.tables.ts',
  roles: 'rbac: move RolesTable from db/schema.ts into rbac.tables.ts',
  role_assignments: 'rbac: move RoleAssignmentsTable from db/schema.ts into rbac.tables.ts',
  user_mfa: 'mfa: move UserMfaTable from db/schema.ts into mfa’s *.tables.ts',
  mfa_recovery_codes: 'mfa: move MfaRecoveryCodesTable from db/schema.ts into mfa’s *.tables.ts',
};
const NOT_YET_OWNED: readonly string[] = [
  // rbac holds groups (identity's) and reads users, organizations, account links and the epoch on accounts.
  'src/features/rbac/groups.store.ts → group_members',
  'src/features/rbac/groups.store.ts → groups',
  'src/features/rbac/groups.store.ts → users',
  'src/features/rbac/rbac.store.ts → account_tenants',
  'src/features/rbac/rbac.store.ts → accounts',
  'src/features/rbac/rbac.store.ts → group_members',
  'src/features/rbac/rbac.store.ts → groups',
  'src/features/rbac/rbac.store.ts → organizations',
  'src/features/rbac/rbac.store.ts → users',
  // sessions reads users (identity's), accounts' epoch (tenants') and signing keys (keys'); its SQL functions
  // (tessera_login_tenants, tessera_session_states) restate rbac's "assignment is active" rule out of this scan's sight.
  'src/features/sessions/sessions.store.ts → accounts',
  'src/features/sessions/sessions.store.ts → signing_keys',
  'src/features/sessions/sessions.store.ts → users',
];

/** src/features/<feature>/… → feature; src/db/… → db. */
function featureOf(file: string): string | undefined {
  if (file.startsWith('src/db/')) return 'db';
  return /^src\/features\/([^/]+)\//.exec(file)?.[1];
}

/** `file → table` for every table a store touches that its feature does not own. */
export function foreignTables(stores: readonly string[], readFile: (file: string) => string, known: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const file of stores) {
    for (const table of tablesTouched(readFile(file), known)) {
      if (OWNERS[table] !== featureOf(file)) out.push(`${file} → ${table}`);
    }
  }
  return out.sort();
}

function describeForeign(entry: string): string {
  const table = entry.split(' → ')[1]!;
  return `${entry}: the table is ${OWNERS[table] ?? 'nobody'}'s; ask its index.ts`;
}

describe('one owner per table', () => {
  const tables = migrationTables();
  const stores = sourceFiles().filter((f) => f.endsWith('.store.ts'));

  it('every table the migrations create has an owner', () => {
    expect([...tables].filter((t) => !(t in OWNERS))).toEqual([]);
  });

  it("each table's Kysely type is declared by its owner's *.tables.ts", () => {
    const declaredBy = new Map<string, string>();
    for (const file of sourceFiles().filter((f) => f.endsWith('.tables.ts') || f === 'src/db/schema.ts')) {
      for (const table of declaredTables(read(file))) declaredBy.set(table, featureOf(file)!);
    }
    const wrong = [...tables]
      .filter((t) => !MIGRATION_ONLY.has(t) && declaredBy.get(t) !== OWNERS[t] && !(t in NOT_YET_DECLARED_BY_OWNER))
      .map((t) => `${t} is declared by ${declaredBy.get(t) ?? 'nobody'}, owned by ${OWNERS[t]}`);
    expect(wrong).toEqual([]);
    // An entry whose move has landed must leave the list.
    expect(Object.keys(NOT_YET_DECLARED_BY_OWNER).filter((t) => declaredBy.get(t) === OWNERS[t])).toEqual([]);
  });

  it("a store touches only its feature's tables", () => {
    const foreign = foreignTables(stores, read, tables);
    expect(foreign.filter((e) => !NOT_YET_OWNED.includes(e)).map(describeForeign)).toEqual([]);
    // An entry that no longer happens must leave the list.
    expect(NOT_YET_OWNED.filter((e) => !foreign.includes(e))).toEqual([]);
  });

  it('sees a foreign table in a Kysely call, a join and raw sql text', () => {
    const sources: Record<string, string> = {
      'src/features/audit/audit.store.ts': "tx.selectFrom('audit_events').innerJoin('users as u', 'u.id', 'x').selectAll()",
      'src/features/tenants/tenants.store.ts': 'sql`update tenants set name = ${n} where id in (select tenant_id from sessions)`',
      'src/features/keys/keys.store.ts': "tx.selectFrom('signing_keys'); sql`select * from tessera_login_tenants(${e})`",
    };
    expect(foreignTables(Object.keys(sources), (f) => sources[f]!, tables)).toEqual(['src/features/audit/audit.store.ts → users', 'src/features/tenants/tenants.store.ts → sessions']);
  });
});
