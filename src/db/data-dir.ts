import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../kernel/app-error.js';
import { DbErrors } from './db.errors.js';

const GROUP_OTHER_WRITE = 0o022;
const GROUP_OTHER_ALL = 0o077;

/**
 * The embedded data directory holds password hashes, wrapped keys and the generated master key: only the
 * user running Tessera may read or write it (OWASP ASVS V14.1, least privilege on files).
 *
 * - The directory is created 0700: that is the wall. PGlite sets its files' modes itself (0666, whatever
 *   the umask), so what it creates while running is reachable only through this directory.
 * - The process umask becomes 077, for every file and directory created through the ordinary calls. An existing one that another user owns, or that its group or others may
 *   write, is refused with how to fix it: whoever could write it may already have replaced files in it.
 * - An existing directory we own and that nobody else may write is tightened in place (0700 directories,
 *   0600 files), which repairs data directories written by earlier versions under umask 022.
 */
export function secureDataDir(dir: string): void {
  if (process.platform === 'win32') return;
  process.umask(GROUP_OTHER_ALL);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  refuseUnsafe(dir);
  const pgdata = path.join(dir, 'pgdata');
  if (exists(pgdata)) refuseUnsafe(pgdata);
  tightenDataDir(dir);
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function refuseUnsafe(dir: string): void {
  const st = statSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new AppError(DbErrors['db.data_dir_insecure'], {
      message: `The data directory ${dir} is owned by uid ${st.uid}, not by the user running Tessera (uid ${uid}). Run Tessera as its owner, or: chown -R ${uid} ${dir} && chmod 700 ${dir}`,
    });
  }
  if ((st.mode & GROUP_OTHER_WRITE) !== 0) {
    throw new AppError(DbErrors['db.data_dir_insecure'], {
      message: `The data directory ${dir} is writable by its group or by others (mode ${(st.mode & 0o777).toString(8)}). Check nothing in it was altered, then run: chmod -R go-rwx ${dir}`,
    });
  }
}

/**
 * Removes group and other permissions from everything under `dir` that we own; symbolic links are not
 * followed. Run again once PGlite has created its files, so they are 0600 on disk too.
 */
export function tightenDataDir(dir: string): void {
  const uid = process.getuid?.();
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    const st = lstatSync(current);
    if (st.isSymbolicLink() || (uid !== undefined && st.uid !== uid)) continue;
    if ((st.mode & GROUP_OTHER_ALL) !== 0) chmodSync(current, st.mode & 0o700);
    if (st.isDirectory()) for (const entry of readdirSync(current)) stack.push(path.join(current, entry));
  }
}
