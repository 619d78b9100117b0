import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.js';
import { engines } from '../../test/support/databases.js';
import { bootstrappedOperatorDatabase } from '../../test/support/operator.js';
import type { Database } from '../db/database.js';
import { EXIT_USAGE } from './context.js';

// `tessera setup-link create --tenant ID` as an operator runs it: the real command in a child process.
describe.each(engines())('tessera setup-link create [%s]', { timeout: 120_000 }, (engine) => {
  let env: Record<string, string>;
  let open: () => Promise<Database>;
  let drop: () => Promise<void>;
  let tenantId: string;

  beforeAll(async () => {
    ({ env, open, drop, tenantId } = await bootstrappedOperatorDatabase(engine));
  });
  afterAll(() => drop());

  it('prints the URL once; the link is stored hashed, acts for no user, and is audited as the cli system actor', async () => {
    const created = await runCli(['setup-link', 'create', '--tenant', tenantId, '--intent', 'scim', '--expires-in', '3600', '--note', 'Okta admin'], env);
    expect(created.code, created.stderr).toBe(0);
    const url = new URL(created.stdout.trim());
    expect(url.pathname).toBe('/setup');
    const token = url.hash.slice(1);
    expect(token).toMatch(/^tsl1\.[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('intent scim');

    const db = await open();
    try {
      const rows = await db.ownerWork((tx) => tx.selectFrom('setup_links').select(['intent', 'note', 'created_by', 'token_hash']).where('tenant_id', '=', tenantId).execute());
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ intent: 'scim', note: 'Okta admin', created_by: null });
      expect(Buffer.from(rows[0]!.token_hash).toString('utf8')).not.toContain(token.slice(5));
      const events = await db.ownerWork((tx) => tx.selectFrom('audit_events').select(['actor_type', 'actor_id']).where('tenant_id', '=', tenantId).where('action', '=', 'setup_link.created').execute());
      expect(events).toEqual([{ actor_type: 'system', actor_id: 'cli' }]);
    } finally {
      await db.close();
    }
  });

  it('refuses a bad intent or lifetime (usage) and an unknown tenant (not_found), creating nothing', async () => {
    expect((await runCli(['setup-link', 'create', '--tenant', tenantId, '--intent', 'everything'], env)).code).toBe(EXIT_USAGE);
    expect((await runCli(['setup-link', 'create', '--tenant', tenantId, '--expires-in', '60'], env)).code).toBe(EXIT_USAGE);
    expect((await runCli(['setup-link', 'create', '--tenant', 'acme'], env)).code).toBe(EXIT_USAGE);
    const unknown = await runCli(['setup-link', 'create', '--tenant', '00000000-0000-4000-8000-000000000000'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not_found');
    const db = await open();
    try {
      expect(await db.ownerWork((tx) => tx.selectFrom('setup_links').select('id').execute())).toHaveLength(1);
    } finally {
      await db.close();
    }
  });
});
