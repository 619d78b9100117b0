import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, lstatSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveMasterKey } from '../crypto/master-key.js';
import { testConfig } from '../../test/support/app.js';
import { openDatabase } from './database.js';
import { match } from '../../test/support/matchers.js';

/** Every path under `dir` whose mode grants anything to group or others. */
function looseModes(dir: string): string[] {
  const loose: string[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    const st = lstatSync(current);
    if (st.isSymbolicLink()) continue;
    if ((st.mode & 0o077) !== 0) loose.push(`${current} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const entry of readdirSync(current)) stack.push(path.join(current, entry));
  }
  return loose;
}

// Product rule: the embedded database holds password hashes; no other local user may read or change it.
describe.skipIf(process.platform === 'win32')('the embedded data directory', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'tessera-datadir-'));
  let umask: number;
  beforeEach(() => {
    // The usual default, under which PGlite's files used to be created 0666 and the directory 0755.
    umask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(umask);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is created 0700 with every file in it 0600, whatever the umask was', async () => {
    const dir = path.join(root, 'fresh');
    const db = await openDatabase({ kind: 'pglite', dataDir: dir, poolMax: 1 });
    await db.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(path.join(dir, 'pgdata')).length).toBeGreaterThan(0);
    expect(looseModes(dir)).toEqual([]);
  });

  it('written by an earlier version (0755, files 0666) is tightened on open', async () => {
    const dir = path.join(root, 'earlier');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    writeFileSync(path.join(dir, 'master.key'), 'x', { mode: 0o666 });
    chmodSync(path.join(dir, 'master.key'), 0o666);
    mkdirSync(path.join(dir, 'pgdata'), { mode: 0o755 });
    chmodSync(path.join(dir, 'pgdata'), 0o755);
    const db = await openDatabase({ kind: 'pglite', dataDir: dir, poolMax: 1 });
    await db.close();
    expect(looseModes(dir)).toEqual([]);
  });

  it('that others may write is refused, with how to fix it, before anything is opened', async () => {
    const dir = path.join(root, 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    await expect(openDatabase({ kind: 'pglite', dataDir: dir, poolMax: 1 })).rejects.toMatchObject({
      code: 'db.data_dir_insecure',
      message: match.stringContaining(`chmod -R go-rwx ${dir}`),
    });
    expect(readdirSync(dir)).toEqual([]);
    expect(() => resolveMasterKey(testConfig({ TESSERA_MASTER_KEY: '', TESSERA_DATA_DIR: dir }))).toThrow(/writable by its group or by others/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('whose pgdata its group may write is refused', async () => {
    const dir = path.join(root, 'group-pgdata');
    mkdirSync(path.join(dir, 'pgdata'), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    chmodSync(path.join(dir, 'pgdata'), 0o770);
    await expect(openDatabase({ kind: 'pglite', dataDir: dir, poolMax: 1 })).rejects.toMatchObject({ code: 'db.data_dir_insecure' });
  });

  it.skipIf(process.getuid?.() !== 0)('owned by another user is refused (checked when the suite runs as root)', async () => {
    const dir = path.join(root, 'not-mine');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    await expect(openDatabase({ kind: 'pglite', dataDir: dir, poolMax: 1 })).rejects.toMatchObject({
      code: 'db.data_dir_insecure',
      message: match.stringContaining('owned by uid 65534'),
    });
  });
});
