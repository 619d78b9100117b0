import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.js';
import { engines } from '../../test/support/databases.js';
import { bootstrappedOperatorDatabase } from '../../test/support/operator.js';
import type { Database } from '../db/database.js';
import { testTempDir } from '../../test/support/temp-dir.js';

// `tessera audit export|verify` as an operator runs them: the real command in a child process, against a
// database prepared here (an embedded data directory, or a PostgreSQL database).
describe.each(engines())('tessera audit [%s]', { timeout: 120_000 }, (engine) => {
  let env: Record<string, string>;
  let open: () => Promise<Database>;
  let drop: () => Promise<void>;
  let tenantId: string;

  beforeAll(async () => {
    ({ env, open, drop, tenantId } = await bootstrappedOperatorDatabase(engine));
  });
  afterAll(() => drop());

  it('verify reports an intact chain; export writes a filtered CSV file', async () => {
    const verify = await runCli(['audit', 'verify', '--tenant', tenantId], env);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('ok: 4 event(s) verified from the first event to #4');

    const out = path.join(testTempDir('audit-export'), 'audit.csv');
    const csv = await runCli(['audit', 'export', '--tenant', tenantId, '--format', 'csv', '--out', out, '--action', 'user.'], env);
    expect(csv.code).toBe(0);
    expect(csv.stderr).toContain(`exported 1 event(s) to ${out}`);
    const lines = readFileSync(out, 'utf8').split('\r\n');
    expect(lines[0]).toBe('\uFEFFtenant_id,seq,occurred_at,actor_type,actor_id,actor_email,actor_ip,actor_user_agent,action,target_type,target_id,outcome,error_code,details,prev_hash,hash');
    expect(lines[1]).toContain(',user.created,user,');
    expect(lines).toHaveLength(3);
  });

  it('verify names the first tampered event and exits 1', async () => {
    const setDetails = async (details: unknown) => {
      const db = await open();
      try {
        return await db.ownerWork(async (tx) => {
          const row = await tx.selectFrom('audit_events').select('details').where('tenant_id', '=', tenantId).where('seq', '=', 3).executeTakeFirstOrThrow();
          await sql`alter table audit_events disable trigger audit_events_append_only`.execute(tx);
          await sql`update audit_events set details = ${JSON.stringify(details)}::jsonb where tenant_id = ${tenantId} and seq = 3`.execute(tx);
          await sql`alter table audit_events enable trigger audit_events_append_only`.execute(tx);
          return row.details;
        });
      } finally {
        await db.close();
      }
    };
    const original = await setDetails({ email: 'attacker@evil.example' });
    try {
      const verify = await runCli(['audit', 'verify', '--tenant', tenantId, '--json'], env);
      expect(verify.code).toBe(1);
      expect(JSON.parse(verify.stdout)).toMatchObject({ ok: false, checked: 2, break: { seq: 3, reason: 'hash_mismatch' } });
    } finally {
      // The chain is put back as it was, for whatever test runs next.
      await setDetails(original);
    }
    expect((await runCli(['audit', 'verify', '--tenant', tenantId], env)).code).toBe(0);
  });
});
