import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { knownMigrations } from './migrator.js';

/**
 * The lock: file name → SHA-256 of every migration ever shipped. A shipped migration has run on databases we
 * do not control; editing it changes nothing there and makes the ledger refuse to start
 * (db.migration_modified). Changes go into a new numbered migration, which is added to the lock as it ships.
 */
const LOCK = JSON.parse(readFileSync(new URL('./migrations.lock.json', import.meta.url), 'utf8')) as Record<string, string>;

describe('shipped migrations are pinned', () => {
  const known = new Map(knownMigrations().map((m) => [`${String(m.version).padStart(4, '0')}_${m.name}.sql`, m.checksum]));

  it('no locked migration was edited, renamed or removed', () => {
    const changed = Object.entries(LOCK)
      .filter(([file, checksum]) => known.get(file) !== checksum)
      .map(([file]) => (known.has(file) ? `${file} was edited: put the change in a new migration` : `${file} is missing: a shipped migration was renamed or removed`));
    expect(changed).toEqual([]);
  });

  it('every migration is in the lock (add a new one to src/db/migrations.lock.json as it ships)', () => {
    expect([...known.keys()].filter((file) => !(file in LOCK))).toEqual([]);
  });

  it('the shipped foundation is locked (the lock cannot be emptied to silence the test)', () => {
    for (const file of ['0001_foundation.sql', '0002_audit.sql', '0003_sessions.sql', '0004_identity_mfa.sql', '0005_access_control.sql', '0006_me_fast_path.sql', '0007_organizations_policy.sql']) {
      expect(LOCK[file], file).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
