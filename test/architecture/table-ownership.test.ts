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
  // domains: a tenant's verified email domains
  domains: 'domains',
  // sso: connections (their secrets and cached discovery documents)
  sso_connections: 'sso',
  sso_identities: 'sso',
  sso_logins: 'sso',
  sso_connection_tests: 'sso',
  // sso: Require-SSO break-glass users and the tenant's SSO settings (returnTo allow-list)
  sso_break_glass_users: 'sso',
  sso_settings: 'sso',
  // scim: directories, their bearer tokens, the SCIM side of provisioned users and groups, group → role mappings
  scim_directories: 'scim',
  setup_links: 'setup-links',
  scim_tokens: 'scim',
  scim_users: 'scim',
  scim_groups: 'scim',
  scim_role_mappings: 'scim',
  // applications: the product's apps that sign in through Tessera's OpenID Provider
  applications: 'applications',
  // openid-provider: oidc-provider's own artefacts (interactions, OP sessions, codes, tokens, grants)
  oidc_provider_artifacts: 'openid-provider',
  // openid-provider: the back-channel logout outbox
  backchannel_logout_outbox: 'openid-provider',
  // db: the migrations ledger (migrator.ts; readiness asks db/migrator.ts)
  tessera_migrations: 'db',
};

/** Tables only SQL functions of the migrations touch: no Kysely type to declare. */
const MIGRATION_ONLY = new Set(['audit_retention_window']);

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
      .filter((t) => !MIGRATION_ONLY.has(t) && declaredBy.get(t) !== OWNERS[t])
      .map((t) => `${t} is declared by ${declaredBy.get(t) ?? 'nobody'}, owned by ${OWNERS[t]}`);
    expect(wrong).toEqual([]);
  });

  it("a store touches only its feature's tables", () => {
    const foreign = foreignTables(stores, read, tables);
    expect(foreign.map(describeForeign)).toEqual([]);
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
