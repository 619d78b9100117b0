import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';

/**
 * A fresh `tessera-<prefix>-*` directory in the temp dir, removed when the current test finishes, whether
 * it passed or failed (global-setup.ts fails the run on anything left behind). Call it inside a test; a
 * suite-wide directory belongs to whatever helper's `drop()`/`close()` the suite already awaits in afterAll.
 */
export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `tessera-${prefix}-`));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
