import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../support/databases.js';
import { Keyring } from '../../src/crypto/keyring.js';
import { createMasterKeys } from '../../src/crypto/master-key.js';
import { allTenantIds } from '../../src/features/tenants/index.js';
import { eventHash, GENESIS_HASH } from '../../src/features/audit/audit-chain.js';
import { createAudit } from '../../src/features/audit/index.js';
import { dataKeyStore } from '../../src/features/keys/index.js';
import { FixedClock } from '../../src/kernel/clock.js';
import type { Tx } from '../../src/db/database.js';
import { knownMigrations, migrate } from '../../src/db/migrator.js';

const T = '0190a7a2-1111-7000-8000-000000000001';
const ACC = '0190a7a2-1111-7000-8000-000000000002';
const ORG = '0190a7a2-1111-7000-8000-000000000003';
const USER = '0190a7a2-1111-7000-8000-000000000004';
const ROLE = '0190a7a2-1111-7000-8000-000000000005';
const SESSION = '0190a7a2-1111-7000-8000-000000000006';
const GROUP = '0190a7a2-1111-7000-8000-000000000007';
const CONNECTION = '0190a7a2-1111-7000-8000-000000000008';
const SCIM_DIRECTORY = '0190a7a2-1111-7000-8000-000000000009';
const SCIM_GROUP = '0190a7a2-1111-7000-8000-00000000000a';
const AT = '2026-01-02T03:04:05.678000Z';

function auditEvent(seq: number, prevHash: string) {
  const unsigned = {
    tenantId: T,
    seq,
    occurredAt: AT,
    actor: { type: 'system', id: 'upgrade-test', email: null, ip: null, userAgent: null },
    action: 'user.created',
    target: { type: 'user', id: USER },
    outcome: 'success' as const,
    errorCode: null,
    details: { seq },
    prevHash,
  };
  return { ...unsigned, hash: eventHash(unsigned) };
}

/**
 * Data as each schema version could hold it, written with that version's columns only (as the owner).
 * Seeds[v - 1] runs once the database is at version v.
 */
const SEEDS: ((tx: Tx) => Promise<unknown>)[] = [
  // 0001 foundation
  async (tx) => {
    await sql`insert into tenants (id, name, settings) values (${T}, 'Upgrade Co', '{"mfaRequired": true}')`.execute(tx);
    await sql`insert into accounts (id, name) values (${ACC}, 'Main')`.execute(tx);
    await sql`insert into account_tenants (tenant_id, account_id) values (${T}, ${ACC})`.execute(tx);
    await sql`insert into organizations (account_id, id, name) values (${ACC}, ${ORG}, 'Ops')`.execute(tx);
    await sql`insert into users (tenant_id, id, email, name, password_hash, is_tenant_admin) values (${T}, ${USER}, 'Ada@Example.com', 'Ada', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA', true)`.execute(tx);
    await sql`insert into roles (account_id, id, name, organization_id, permissions) values (${ACC}, ${ROLE}, 'Operators', ${ORG}, '{idp.view,roles.create}')`.execute(tx);
    await sql`insert into role_assignments (tenant_id, id, account_id, role_id, user_id, expires_at) values (${T}, gen_random_uuid(), ${ACC}, ${ROLE}, ${USER}, '2030-01-01T00:00:00Z')`.execute(tx);
    await sql`insert into tenant_keys (tenant_id, version, wrapped_key, master_key_id) values (${T}, 1, '\x0102'::bytea, 'mk1')`.execute(tx);
    await sql`insert into signing_keys (kid, alg, public_jwk, private_key_enc, master_key_id, created_at) values ('kid-1', 'EdDSA', '{"kty":"OKP"}', '\x03'::bytea, 'mk1', ${AT})`.execute(tx);
  },
  // 0002 audit: a two-event chain, valid under the documented hash
  async (tx) => {
    const first = auditEvent(1, GENESIS_HASH);
    const second = auditEvent(2, first.hash);
    for (const e of [first, second]) {
      await sql`insert into audit_events (tenant_id, seq, occurred_at, actor_type, actor_id, action, target_type, target_id, outcome, details, prev_hash, hash)
                values (${T}, ${e.seq}, ${e.occurredAt}::timestamptz, 'system', 'upgrade-test', ${e.action}, 'user', ${USER}, 'success', ${JSON.stringify(e.details)}::jsonb, ${e.prevHash}, ${e.hash})`.execute(tx);
    }
    await sql`insert into audit_heads (tenant_id, last_seq, last_hash, last_at) values (${T}, 2, ${second.hash}, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into audit_settings (tenant_id, retention_days, updated_at) values (${T}, 3650, ${AT}::timestamptz)`.execute(tx);
  },
  // 0003 sessions
  async (tx) => {
    await sql`insert into sessions (tenant_id, id, user_id, account_id, amr, created_at, last_seen_at, expires_at) values (${T}, ${SESSION}, ${USER}, ${ACC}, '{pwd}', ${AT}::timestamptz, ${AT}::timestamptz, '2030-01-01T00:00:00Z')`.execute(tx);
    await sql`insert into refresh_tokens (tenant_id, token_hash, session_id, created_at, expires_at) values (${T}, '\x0a0b'::bytea, ${SESSION}, ${AT}::timestamptz, '2030-01-01T00:00:00Z')`.execute(tx);
    await sql`insert into login_throttles (key, failures, window_started_at) values ('\x0c'::bytea, 2, ${AT}::timestamptz)`.execute(tx);
  },
  // 0004 identity and MFA
  async (tx) => {
    await sql`insert into user_mfa (tenant_id, user_id, totp_secret_enc, enabled_at, last_used_step) values (${T}, ${USER}, '\x0d'::bytea, ${AT}::timestamptz, 42)`.execute(tx);
    await sql`insert into mfa_recovery_codes (tenant_id, user_id, code_hash) values (${T}, ${USER}, '\x0e'::bytea)`.execute(tx);
  },
  // 0005 access control
  async (tx) => {
    await sql`insert into permission_catalog (account_id, key, category, created_at) values (${ACC}, 'hosts.view', 'Hosts', ${AT}::timestamptz)`.execute(tx);
    await sql`insert into role_templates (account_id, key, name, permissions) values (${ACC}, 'viewer', 'Viewer', '{hosts.view}')`.execute(tx);
    await sql`insert into groups (tenant_id, id, name, created_at, updated_at) values (${T}, ${GROUP}, 'Admins', ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into group_members (tenant_id, group_id, user_id, created_at) values (${T}, ${GROUP}, ${USER}, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into role_assignments (tenant_id, id, account_id, role_id, group_id) values (${T}, gen_random_uuid(), ${ACC}, ${ROLE}, ${GROUP})`.execute(tx);
    await sql`insert into api_keys (tenant_id, id, account_id, name, key_hash, permissions, created_at) values (${T}, gen_random_uuid(), ${ACC}, 'CI', '\x0f'::bytea, '{hosts.view}', ${AT}::timestamptz)`.execute(tx);
  },
  // 0006 and 0007 change functions and policies only.
  async () => {},
  async () => {},
  // 0008 security stamp: a spent token id (users and sessions gain columns with defaults).
  async (tx) => {
    await sql`insert into used_tokens (tenant_id, jti, expires_at) values (${T}, gen_random_uuid(), '2030-01-01T00:00:00Z')`.execute(tx);
  },
  // 0009 throttle refusals: a counter whose window already had its first refusal.
  async (tx) => {
    await sql`insert into login_throttles (key, failures, window_started_at, first_refused_at) values ('\x1c'::bytea, 11, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
  },
  // 0010 audit append-only: functions and triggers only; its retention window is never committed to.
  async () => {},
  // 0011 user principals: a view and a function, no data.
  async () => {},
  // 0012 domains: one verified and one pending domain.
  async (tx) => {
    await sql`insert into domains (tenant_id, id, domain, token, status, verified_at, verified_by, next_check_at, created_at) values (${T}, gen_random_uuid(), 'upgrade.example', 'tok-0123456789abcdef', 'verified', ${AT}::timestamptz, 'dns', ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into domains (tenant_id, id, domain, token, status, created_at) values (${T}, gen_random_uuid(), 'pending.example', 'tok-fedcba9876543210', 'pending', ${AT}::timestamptz)`.execute(tx);
  },
  // 0013 SSO connections: an OIDC connection with an encrypted secret and a cached discovery document.
  async (tx) => {
    await sql`insert into sso_connections (tenant_id, id, type, name, enabled, domains, rules, config, client_secret_enc, discovery, discovery_fetched_at, created_at, updated_at)
      values (${T}, ${CONNECTION}, 'oidc', 'Okta', true, '{acme.test}', '[{"claim":"groups","operator":"equals","value":"admins","roleId":null}]'::jsonb,
        '{"issuer":"https://acme.okta.com","clientId":"0oa1"}'::jsonb, '\x1d'::bytea, '{"issuer":"https://acme.okta.com"}'::jsonb, ${AT}::timestamptz, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
  },
  // 0014 SSO identities: the user an IdP subject of the connection signs in as.
  async (tx) => {
    await sql`insert into sso_identities (tenant_id, connection_id, subject, user_id, created_at, last_login_at) values (${T}, ${CONNECTION}, 'okta-sub-1', ${USER}, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
  },
  // 0015 SSO client keys: a private_key_jwt connection with its published JWKS and encrypted private key.
  async (tx) => {
    await sql`update sso_connections set client_jwks = '{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y","kid":"k1","alg":"ES256","use":"sig"}]}'::jsonb, client_key_enc = '\x2e'::bytea
      where tenant_id = ${T} and id = ${CONNECTION}`.execute(tx);
  },
  // 0016 assignment source: an assignment an SSO connection's mapping rules manage.
  async (tx) => {
    await sql`insert into role_assignments (tenant_id, id, account_id, role_id, user_id, managed_by, created_at) values (${T}, gen_random_uuid(), ${ACC}, ${ROLE}, ${USER}, ${`sso:${CONNECTION}`}, ${AT}::timestamptz)`.execute(tx);
  },
  // 0017 SSO connection tests: a finished dry-run sign-in's outcome.
  async (tx) => {
    await sql`insert into sso_connection_tests (tenant_id, id, connection_id, started_by, status, outcome, created_at, expires_at)
      values (${T}, gen_random_uuid(), ${CONNECTION}, ${USER}, 'succeeded', '{"claims":{"sub":"okta-sub-1"}}'::jsonb, ${AT}::timestamptz, ${AT}::timestamptz + interval '30 minutes')`.execute(tx);
  },
  // 0018 SSO policy: Require SSO on the verified domain, a break-glass user, the tenant's SSO settings.
  async (tx) => {
    await sql`update domains set require_sso = true where tenant_id = ${T} and domain = 'upgrade.example'`.execute(tx);
    await sql`insert into sso_break_glass_users (tenant_id, user_id, created_by, created_at) values (${T}, ${USER}, ${USER}, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into sso_settings (tenant_id, allowed_return_origins, updated_by, updated_at) values (${T}, '{https://app.upgrade.example}', ${USER}, ${AT}::timestamptz)`.execute(tx);
  },
  // 0019 SCIM: a directory linked to the connection, a token (hash only), and the user it provisions.
  async (tx) => {
    await sql`insert into scim_directories (tenant_id, id, name, sso_connection_id, created_at, updated_at) values (${T}, ${SCIM_DIRECTORY}, 'Okta', ${CONNECTION}, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into scim_tokens (tenant_id, id, directory_id, token_hash, created_at, last_used_at) values (${T}, gen_random_uuid(), ${SCIM_DIRECTORY}, '\x0102'::bytea, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into scim_users (tenant_id, directory_id, user_id, user_name, external_id, active, resource, version, created_at, updated_at)
      values (${T}, ${SCIM_DIRECTORY}, ${USER}, 'user@acme.test', '00u1', true, '{"emails":[{"value":"user@acme.test","primary":true}]}'::jsonb, 3, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
  },
  // 0020 SCIM groups: a group the directory provisions (an identity group with the user), a mapping to a role,
  // the default role on the directory's everyone group, and the assignment the mapping manages.
  async (tx) => {
    await sql`insert into groups (tenant_id, id, name, created_at, updated_at) values (${T}, ${SCIM_GROUP}, 'okta-admins', ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into group_members (tenant_id, group_id, user_id, created_at) values (${T}, ${SCIM_GROUP}, ${USER}, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into scim_groups (tenant_id, directory_id, group_id, display_name, external_id, resource, version, created_at, updated_at)
      values (${T}, ${SCIM_DIRECTORY}, ${SCIM_GROUP}, 'okta-admins', '00g1', '{}'::jsonb, 2, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into scim_role_mappings (tenant_id, directory_id, id, group_name, role_id, position, created_by, created_at)
      values (${T}, ${SCIM_DIRECTORY}, gen_random_uuid(), 'okta-admins', ${ROLE}, 0, ${USER}, ${AT}::timestamptz), (${T}, ${SCIM_DIRECTORY}, gen_random_uuid(), null, ${ROLE}, 1, ${USER}, ${AT}::timestamptz)`.execute(tx);
    await sql`update scim_directories set everyone_group_id = ${GROUP} where tenant_id = ${T} and id = ${SCIM_DIRECTORY}`.execute(tx);
    await sql`insert into role_assignments (tenant_id, id, account_id, role_id, group_id, managed_by, created_at) values (${T}, gen_random_uuid(), ${ACC}, ${ROLE}, ${SCIM_GROUP}, ${`scim:${SCIM_DIRECTORY}`}, ${AT}::timestamptz)`.execute(tx);
  },
  // 0021 SAML SP keys: the connection's SP key pairs (certificate public, private key encrypted), current first.
  async (tx) => {
    await sql`update sso_connections set saml_sp_keys = '{"keys":[{"id":"00000000-0000-4000-8000-000000000020","certificatePem":"-----BEGIN CERTIFICATE-----","createdAt":"2026-01-01T00:00:00.000Z","privateKeyEnc":"Lg=="}]}'::jsonb
      where tenant_id = ${T} and id = ${CONNECTION}`.execute(tx);
  },
  // 0022 SSO logins: a SAML login (NameID, SessionIndex), and the session it became.
  async (tx) => {
    await sql`insert into sso_logins (tenant_id, id, connection_id, user_id, name_id, name_id_format, session_index, created_at)
      values (${T}, '00000000-0000-4000-8000-000000000021', ${CONNECTION}, ${USER}, 'user@acme.test', 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', '_s1', ${AT}::timestamptz)`.execute(tx);
    await sql`update sessions set source_id = '00000000-0000-4000-8000-000000000021' where tenant_id = ${T}`.execute(tx);
  },
  // 0023 SCIM department mappings: a department mapped to a role through the directory's department group.
  async (tx) => {
    await sql`insert into groups (tenant_id, id, name, created_at, updated_at) values (${T}, '00000000-0000-4000-8000-000000000023', ${`SCIM ${SCIM_DIRECTORY}: department finance`}, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into scim_role_mappings (tenant_id, directory_id, id, group_name, department, department_group_id, role_id, position, created_by, created_at)
      values (${T}, ${SCIM_DIRECTORY}, gen_random_uuid(), null, 'Finance', '00000000-0000-4000-8000-000000000023', ${ROLE}, 2, ${USER}, ${AT}::timestamptz)`.execute(tx);
  },
  // 0024 tenant slugs: the tenant's slug changed by its administrator.
  async (tx) => {
    await sql`update tenants set slug = 'upgrade' where id = ${T}`.execute(tx);
  },
  // 0025 setup links: a pending link for an SSO connection not created yet.
  async (tx) => {
    await sql`insert into setup_links (tenant_id, id, token_hash, intent, note, created_by, created_at, expires_at, connection_id)
      values (${T}, '00000000-0000-4000-8000-000000000025', ${randomBytes(32)}, 'sso', 'Acme IT', ${USER}, ${AT}::timestamptz, ${AT}::timestamptz + interval '7 days', '00000000-0000-4000-8000-000000000125')`.execute(tx);
  },
  // 0026 applications and the OpenID Provider's artifacts: a web application and one stored (hashed) grant.
  async (tx) => {
    await sql`insert into applications (tenant_id, id, account_id, client_id, name, type, redirect_uris, token_endpoint_auth_method, secret_hash, scopes, access_token_ttl_seconds, refresh_token_ttl_seconds, created_by, created_at, updated_at)
      values (${T}, '00000000-0000-4000-8000-000000000026', ${ACC}, 'tc1.upgrade.web', 'Web app', 'web', array['https://app.example/callback'], 'client_secret_basic', ${randomBytes(32)}, array['openid', 'email'], 300, 2592000, ${USER}, ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
    await sql`insert into oidc_provider_artifacts (model, id_hash, tenant_id, grant_id, payload, expires_at)
      values ('Grant', ${randomBytes(32)}, ${T}, 'grant-1', '{"kind":"Grant"}'::jsonb, ${AT}::timestamptz + interval '1 day')`.execute(tx);
  },
  // 0027 the session read's plan: a function's language only, no data.
  async () => {},
  // 0028 the APIs an application obtains JWT access tokens for.
  async (tx) => {
    await sql`update applications set resources = array['https://api.example/'] where tenant_id = ${T} and id = '00000000-0000-4000-8000-000000000026'`.execute(tx);
  },
  // 0029 back-channel logout: the application's URI and one pending delivery.
  async (tx) => {
    await sql`update applications set backchannel_logout_uri = 'https://app.example/backchannel', backchannel_logout_session_required = true where tenant_id = ${T} and id = '00000000-0000-4000-8000-000000000026'`.execute(tx);
    await sql`insert into backchannel_logout_outbox (tenant_id, id, application_id, client_id, user_id, session_id, created_at, next_attempt_at)
      values (${T}, '00000000-0000-4000-8000-000000000028', '00000000-0000-4000-8000-000000000026', 'tc1.upgrade.web', ${USER}, '00000000-0000-4000-8000-000000000128', ${AT}::timestamptz, ${AT}::timestamptz)`.execute(tx);
  },
  // 0030 refresh rotation in one statement: a function only, no data.
  async () => {},
  // 0031 the session read as key lookups: a function only, no data.
  async () => {},
];

type Snapshot = Record<string, Record<string, unknown>[]>;

/** Every row of every table, as JSON, sorted; after an upgrade, only the columns the earlier snapshot had. */
async function snapshot(t: TestDatabase, like?: Snapshot): Promise<Snapshot> {
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name <> 'tessera_migrations' order by 1`.execute(t.db.kysely);
  const out: Snapshot = {};
  for (const { name } of tables.rows) {
    if (like && !(name in like)) continue;
    const rows = await sql<{ row: Record<string, unknown> }>`select to_jsonb(x) as row from ${sql.table(name)} x`.execute(t.db.kysely);
    const columns = like?.[name]?.[0] ? Object.keys(like[name][0]) : undefined;
    out[name] = rows.rows
      .map(({ row }) => (columns ? Object.fromEntries(columns.map((c) => [c, row[c]])) : row))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return out;
}

// An upgrade from any earlier shipped version keeps every row, and the audit chain still verifies.
describe.each(engines())('upgrading a database with data [%s]', (engine) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.drop();
    t = undefined;
  });
  const all = knownMigrations();

  it('every migration has a seed (add one with each migration; data for the tables it adds)', () => {
    expect(SEEDS.length).toBe(all.length);
  });

  it.each(all.map((m) => m.version))('from version %i to the current schema', async (from) => {
    t = await createTestDatabase(engine, { migrate: false });
    await migrate(t.db, { known: all.slice(0, from) });
    for (const seed of SEEDS.slice(0, from)) await t.db.ownerWork(seed);
    const before = await snapshot(t);
    const seeded = Object.entries(before).filter(([, rows]) => rows.length > 0).map(([name]) => name);
    expect(seeded.length).toBeGreaterThan(5);

    await migrate(t.db);
    expect(await snapshot(t, before)).toEqual(before);
    // Migration 0024 backfills a slug from the tenant's name ('Upgrade Co').
    const slug = await t.db.ownerWork((tx) => sql<{ slug: string }>`select slug from tenants where id = ${T}`.execute(tx));
    expect(slug.rows[0]?.slug).toBe(from < 24 ? 'upgrade-co' : 'upgrade');

    if (from >= 2) {
      const audit = createAudit({ db: t.db, clock: new FixedClock(AT), keyring: new Keyring<Tx>(createMasterKeys(randomBytes(32)), dataKeyStore), tenantIds: allTenantIds, network: { allowLoopback: false, privateNetworks: [] } });
      expect(await audit.verify(T)).toMatchObject({ ok: true, lastSeq: 2 });
    }
  });
});
