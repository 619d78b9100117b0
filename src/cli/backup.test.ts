import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type ServerProcess, startCliServer } from '../../test/support/cli.js';
import { seedEmbeddedDataDir } from '../../test/support/databases.js';
import { loadConfig } from '../config/load-config.js';
import { openDatabase } from '../db/database.js';
import { startServer } from '../main.js';

/**
 * `tessera backup` / `tessera restore` as an operator runs them: the real commands in child processes, the backup
 * taken from a real `tessera serve` while it serves requests, restored into a fresh data directory.
 */
describe('tessera backup and restore (embedded database)', { timeout: 240_000 }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'tessera-backup-'));
  const masterKey = randomBytes(32).toString('base64');
  const live = path.join(root, 'live');
  const restored = path.join(root, 'restored');
  const file = path.join(root, 'tessera.backup');
  const password = 'backup admin password 42';
  const envOf = (dir: string) => ({ TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: masterKey, LOG_LEVEL: 'info' });
  let server: ServerProcess | undefined;
  let tenantId: string;
  let kept: string;
  let revoked: string;

  const login = async () => {
    const response = await fetch(`${server!.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@tessera.local', password }) });
    const body = (await response.json()) as { tenantId: string; session: { accessToken: string; sessionId: string } };
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body;
  };

  beforeAll(async () => {
    // Initialised by PGlite already (databases.ts): the first start migrates and bootstraps it, without initdb.
    await seedEmbeddedDataDir(live);
    server = await startCliServer({ ...envOf(live), TESSERA_ADMIN_PASSWORD: password }, 120_000);
  }, 150_000); // as long as the start may take: vitest.config.ts gives a hook 60 s
  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('backs up while serving (requests in flight), refuses to restore onto the running server, and restores users, revocations and an intact audit chain', async () => {
    const first = await login();
    const second = await login();
    tenantId = first.tenantId;
    revoked = first.session.sessionId;
    kept = second.session.sessionId;
    expect((await fetch(`${server!.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${first.session.accessToken}` } })).status).toBeLessThan(300);
    const created = await fetch(`${server!.url}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${second.session.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'kept@example.com', name: 'Kept User', password: 'kept user password 42' }),
    });
    expect(created.status, await created.clone().text()).toBe(201);

    // Audited writes (failed logins) keep arriving while the snapshot is taken: the chain must still verify after restore.
    let writing = true;
    const load = (async () => {
      let n = 0;
      while (writing) {
        await fetch(`${server!.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `nobody-${n++}@example.com`, password: 'wrong password 123', tenantId }) });
      }
      return n;
    })();
    const backup = await runCli(['backup', file], envOf(live));
    writing = false;
    expect(await load).toBeGreaterThan(0);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain('backup written to');
    expect(readFileSync(file).subarray(0, 14).toString()).toBe('TESSERA-BACKUP');

    const ontoRunning = await runCli(['restore', file, '--force'], envOf(live));
    expect(ontoRunning.code).toBe(1);
    expect(ontoRunning.stderr).toContain('backup.server_running');

    // A second server on the same data directory is refused before it opens anything.
    await expect(startServer(loadConfig({ ...envOf(live), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), { print: () => {} })).rejects.toMatchObject({ code: 'db.data_dir_in_use' });

    const again = await runCli(['backup', file], envOf(live));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('backup.file_exists');

    await server!.stop();
    server = undefined;

    const restore = await runCli(['restore', file], envOf(restored));
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    const verify = await runCli(['audit', 'verify', '--tenant', tenantId], envOf(restored));
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^ok: \d+ event\(s\) verified/);

    const db = await openDatabase({ kind: 'pglite', dataDir: restored, poolMax: 1 });
    try {
      const users = await db.ownerWork((tx) => tx.selectFrom('users').select('email').where('tenant_id', '=', tenantId).orderBy('email').execute());
      expect(users.map((u) => u.email)).toEqual(['admin@tessera.local', 'kept@example.com']);
      const sessions = await db.ownerWork((tx) => tx.selectFrom('sessions').select(['id', 'revoked_at', 'revoked_reason']).where('tenant_id', '=', tenantId).execute());
      expect(sessions.find((s) => s.id === revoked)).toMatchObject({ revoked_reason: 'logout' });
      expect(sessions.find((s) => s.id === revoked)?.revoked_at).not.toBeNull();
      expect(sessions.find((s) => s.id === kept)?.revoked_at).toBeNull();
    } finally {
      await db.close();
    }

    // The restored directory is no longer empty.
    const twice = await runCli(['restore', file], envOf(restored));
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('backup.data_dir_not_empty');
  });

  it('refuses a tampered backup, another master key and a file that is not a backup, and changes nothing', async () => {
    const tampered = path.join(root, 'tampered.backup');
    const bytes = readFileSync(file);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x80;
    writeFileSync(tampered, bytes);
    const target = path.join(root, 'target');
    const refused = await runCli(['restore', tampered], envOf(target));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error backup.authentication_failed');
    expect(existsSync(path.join(target, 'pgdata'))).toBe(false);

    const wrongKey = await runCli(['restore', file], { TESSERA_DATA_DIR: target, TESSERA_MASTER_KEY: randomBytes(32).toString('base64') });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('error backup.master_key_mismatch');

    const notOurs = path.join(root, 'dump.sql');
    writeFileSync(notOurs, '-- PostgreSQL database dump\n');
    const invalid = await runCli(['restore', notOurs], envOf(target));
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('error backup.file_invalid');
    expect(existsSync(path.join(target, 'pgdata'))).toBe(false);
  });

  it('points PostgreSQL to pg_dump', async () => {
    const result = await runCli(['backup', path.join(root, 'pg.backup')], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/none', TESSERA_MASTER_KEY: masterKey });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error backup.not_embedded');
    expect(result.stderr).toContain('pg_dump');
  });
});
