import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.js';
import { engines } from '../../test/support/databases.js';
import { bootstrappedOperatorDatabase } from '../../test/support/operator.js';
import type { Database } from '../db/database.js';
import { testTempDir } from '../../test/support/temp-dir.js';

const EXAMPLE = fileURLToPath(new URL('../../docs/examples/catalog.json', import.meta.url));

// `tessera catalog import FILE` as an operator runs it: the real command in a child process.
describe.each(engines())('tessera catalog import [%s]', { timeout: 120_000 }, (engine) => {
  let env: Record<string, string>;
  let open: () => Promise<Database>;
  let drop: () => Promise<void>;
  let tenantId: string;
  let accountId: string;

  beforeAll(async () => {
    ({ env, open, drop, tenantId, accountId } = await bootstrappedOperatorDatabase(engine));
  });
  afterAll(() => drop());

  it('imports the example catalog once (idempotent), with its templates, and records it in the audit log', async () => {
    const first = await runCli(['catalog', 'import', EXAMPLE, '--account', accountId], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('version 1 (changed)');
    const again = await runCli(['catalog', 'import', EXAMPLE, '--account', accountId], env);
    expect(again.stdout).toContain('version 1 (unchanged)');

    const db = await open();
    try {
      const templates = await db.tenantWork(tenantId, (tx) => tx.selectFrom('role_templates').select('name').orderBy('name').execute());
      expect(templates.map((t) => t.name)).toEqual(['Helpdesk Technician', 'Network Operator', 'Patch Manager', 'Security Analyst']);
      const events = await db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_type', 'actor_id']).where('tenant_id', '=', tenantId).where('action', '=', 'permission_catalog.updated').execute());
      expect(events).toEqual([{ action: 'permission_catalog.updated', actor_type: 'system', actor_id: 'cli' }]);
    } finally {
      await db.close();
    }
  });

  it('refuses an invalid file with exit code 2 and a key error with exit code 1', async () => {
    const dir = testTempDir('catalog-file');
    const shapeless = path.join(dir, 'bad.json');
    writeFileSync(shapeless, JSON.stringify({ permissions: 'hosts.view' }));
    const bad = await runCli(['catalog', 'import', shapeless, '--account', accountId], env);
    expect(bad.code).toBe(2);
    const reserved = path.join(dir, 'reserved.json');
    writeFileSync(reserved, JSON.stringify({ permissions: [{ key: 'idp.view', category: 'Mine' }] }));
    const refused = await runCli(['catalog', 'import', reserved, '--account', accountId], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('rbac.invalid_permission_key');
  });
});
