import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.js';
import { engines } from '../../test/support/databases.js';
import { bootstrappedOperatorDatabase } from '../../test/support/operator.js';
import type { Database } from '../db/database.js';

// `tessera domains verify DOMAIN --tenant ID --force` as an operator runs it: the real command in a child process.
describe.each(engines())('tessera domains verify [%s]', { timeout: 120_000 }, (engine) => {
  let env: Record<string, string>;
  let open: () => Promise<Database>;
  let drop: () => Promise<void>;
  let tenantId: string;

  beforeAll(async () => {
    ({ env, open, drop, tenantId } = await bootstrappedOperatorDatabase(engine));
  });
  afterAll(() => drop());

  it('--force marks the domain verified without DNS, audited as the cli system actor; a public mailbox is refused', async () => {
    const forced = await runCli(['domains', 'verify', 'Intranet.Example', '--tenant', tenantId, '--force'], env);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('intranet.example: verified (forced by the operator)');

    const refused = await runCli(['domains', 'verify', 'gmail.com', '--tenant', tenantId, '--force'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('domain.public_mailbox');

    const db = await open();
    try {
      const rows = await db.ownerWork((tx) => tx.selectFrom('domains').select(['domain', 'status', 'verified_by']).where('tenant_id', '=', tenantId).execute());
      expect(rows).toEqual([{ domain: 'intranet.example', status: 'verified', verified_by: 'operator' }]);
      const events = await db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_type', 'actor_id']).where('tenant_id', '=', tenantId).where('action', 'like', 'domain.%').orderBy('seq').execute());
      expect(events).toEqual([
        { action: 'domain.added', actor_type: 'system', actor_id: 'cli' },
        { action: 'domain.force_verified', actor_type: 'system', actor_id: 'cli' },
      ]);
    } finally {
      await db.close();
    }
  });

  // Product rule: a misconfigured IdP must never lock the tenant out — the operator can always lift Require SSO.
  it('lift-require-sso turns Require SSO off as the cli system actor; a domain the tenant lacks is refused', async () => {
    expect((await runCli(['domains', 'verify', 'locked.example', '--tenant', tenantId, '--force'], env)).code).toBe(0);
    const db = await open();
    try {
      await db.ownerWork((tx) => tx.updateTable('domains').set({ require_sso: true }).where('tenant_id', '=', tenantId).where('domain', '=', 'locked.example').execute());
    } finally {
      await db.close();
    }
    const lifted = await runCli(['domains', 'lift-require-sso', 'Locked.Example', '--tenant', tenantId], env);
    expect(lifted.stderr).toBe('');
    expect(lifted.code).toBe(0);
    expect(lifted.stdout).toContain('locked.example: Require SSO is off');

    const missing = await runCli(['domains', 'lift-require-sso', 'nowhere.example', '--tenant', tenantId], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not_found');

    const after = await open();
    try {
      const row = await after.ownerWork((tx) => tx.selectFrom('domains').select('require_sso').where('tenant_id', '=', tenantId).where('domain', '=', 'locked.example').executeTakeFirstOrThrow());
      expect(row.require_sso).toBe(false);
      const events = await after.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_type', 'actor_id']).where('tenant_id', '=', tenantId).where('action', '=', 'domain.require_sso.disabled').execute());
      expect(events).toEqual([{ action: 'domain.require_sso.disabled', actor_type: 'system', actor_id: 'cli' }]);
    } finally {
      await after.close();
    }
  });
});
