import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { VERSION } from '../../src/config/version.js';
import { runCli, startCliServer } from '../support/cli.js';
import { createTestDatabase, seedEmbeddedDataDir, type TestDatabase } from '../support/databases.js';
import { testTempDir } from '../support/temp-dir.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** A new data directory: nothing in it, as an operator's first start has it. */
const newDataDir = () => testTempDir('cli');
/**
 * A new data directory whose embedded database PGlite has initialised, no migration applied (databases.ts): the
 * command migrates, bootstraps and serves as on `newDataDir()`, without the initdb the first test already runs.
 */
const dataDir = async () => {
  const dir = newDataDir();
  await seedEmbeddedDataDir(dir);
  return dir;
};

/** `tessera serve`, stopped when the test ends even if an assertion failed first (before its data dir is removed). */
async function serve(env: Record<string, string>) {
  const server = await startCliServer(env);
  onTestFinished(async () => {
    await server.stop();
  });
  return server;
}

describe('tessera serve (embedded)', { timeout: 180_000 }, () => {
  it('first start bootstraps and prints a one-time password once; a second start reuses the data and prints no secret', async () => {
    const dir = newDataDir();
    const first = await serve({ TESSERA_DATA_DIR: dir });
    const ready = await fetch(`${first.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await first.stop()).toBe(0);
    const out1 = first.output();
    expect(out1).toContain('email:     admin@tessera.local');
    const password = /password: {2}(\S+) {3}\(one-time/.exec(out1)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(out1).toContain('No TESSERA_MASTER_KEY set: generated one');
    // The password is printed to the terminal only, never inside a JSON log line.
    expect(out1.split('\n').filter((l) => l.startsWith('{') && l.includes(password!))).toEqual([]);

    const second = await serve({ TESSERA_DATA_DIR: dir });
    expect(await second.stop()).toBe(0);
    expect(second.output()).not.toContain('Tessera is set up');
    expect(second.output()).not.toContain(password);
    expect(second.output()).not.toContain('generated one');
  });

  it('uses TESSERA_ADMIN_EMAIL and TESSERA_ADMIN_PASSWORD without printing the password', async () => {
    const server = await serve({ TESSERA_DATA_DIR: await dataDir(), TESSERA_ADMIN_EMAIL: 'Root@Example.com', TESSERA_ADMIN_PASSWORD: 'correct horse battery' });
    expect(await server.stop()).toBe(0);
    expect(server.output()).toContain('email:     root@example.com');
    expect(server.output()).toContain('the one in TESSERA_ADMIN_PASSWORD');
    expect(server.output()).not.toContain('correct horse battery');
  });

  it('a configuration error stops the start with the variable named and exit code 2', async () => {
    const result = await runCli(['serve'], { PORT: 'eighty', TESSERA_DATA_DIR: newDataDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PORT="eighty": must be a whole number');
    expect(result.stderr).toContain('README');
  });

  it('PostgreSQL without a master key is a start-up error that says how to make one', async () => {
    const result = await runCli(['serve'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error keyring.master_key_missing');
    expect(result.stderr).toContain('randomBytes(32)');
  });
});

// src/cli/index.ts loads a command's module only when the command line names it, and every module for --help.
describe('tessera --version and --help', { timeout: 60_000 }, () => {
  it('--version prints the package version; --help lists every command; a command is found by its own name', async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(VERSION);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    const commands = (stdout: string) => [...stdout.matchAll(/^ {2}([a-z-]+)(?: \[options\]| <file>| \[command\])* {2,}/gm)].map((m) => m[1]);
    const all = ['serve', 'migrate', 'bootstrap', 'keys', 'audit', 'catalog', 'domains', 'setup-link', 'backup', 'restore', 'help'];
    expect(commands(help.stdout)).toEqual(all);
    // A help flag before a command name is the program's help: every command, not only the one named.
    const before = await runCli(['--help', 'serve']);
    expect(before.code).toBe(0);
    expect(commands(before.stdout)).toEqual(all);
    const restore = await runCli(['restore', '--help']);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain('Usage: tessera restore [options] <file>');
  });
});

describe('tessera bootstrap / migrate / keys', { timeout: 180_000 }, () => {
  it('bootstrap --json prints ids and a generated one-time password', async () => {
    const result = await runCli(['bootstrap', '--tenant', 'Acme', '--account', 'Acme Prod', '--email', 'it@acme.example', '--json'], { TESSERA_DATA_DIR: await dataDir() });
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ email: 'it@acme.example', mustChangePassword: true });
    for (const key of ['tenantId', 'accountId', 'userId', 'roleId']) expect(out[key]).toMatch(UUID);
    expect(out.password).toMatch(/^[A-Za-z0-9]{20}$/);
  });

  it('bootstrap with --password keeps it secret and rejects invalid input with exit code 2', async () => {
    const dir = await dataDir();
    const ok = await runCli(['bootstrap', '--tenant', 'A', '--account', 'B', '--email', 'a@b.example', '--password', 'longenough1', '--json'], { TESSERA_DATA_DIR: dir });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ password: null, mustChangePassword: false });
    const bad = await runCli(['bootstrap', '--tenant', 'A', '--account', 'B', '--email', 'not-an-email', '--password', 'short'], { TESSERA_DATA_DIR: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error bootstrap.invalid_input');
    expect(bad.stderr).toContain('email must be an email address');
    expect(bad.stderr).toContain('password must be at least 8 characters');
    const missing = await runCli(['bootstrap', '--tenant', 'A'], { TESSERA_DATA_DIR: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--account <name>' not specified");
  });

  it('migrate is idempotent and reports status', async () => {
    const dir = await dataDir();
    const first = await runCli(['migrate'], { TESSERA_DATA_DIR: dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/\[1\/\d+\] 0001_foundation/);
    expect(first.stdout).toMatch(/applied \d+ migration\(s\); the database is current/);
    const second = await runCli(['migrate'], { TESSERA_DATA_DIR: dir });
    expect(second.stdout).toContain('nothing to apply');
    const status = await runCli(['migrate', '--status'], { TESSERA_DATA_DIR: dir });
    expect(status.stdout).toMatch(/pending: none/);
  });

  it('keys rotate adds a signing key and re-wraps everything under a new master key', async () => {
    const dir = await dataDir();
    const oldKey = randomBytes(32).toString('base64');
    const newKey = randomBytes(32).toString('base64');
    expect((await runCli(['bootstrap', '--tenant', 'T', '--account', 'A', '--email', 'x@y.example', '--json'], { TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: oldKey })).code).toBe(0);

    const rotated = await runCli(['keys', 'rotate', '--alg', 'ES256'], { TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: oldKey });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/new signing key \S+ \(ES256\) is current/);

    // The new master key alone cannot open what the old one wrapped: the server refuses to start.
    const refused = await runCli(['serve'], { TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: newKey, PORT: '0' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error keyring.master_key_mismatch');

    const rewrapped = await runCli(['keys', 'rotate', '--no-signing'], { TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: newKey, TESSERA_MASTER_KEY_PREVIOUS: oldKey });
    expect(rewrapped.code).toBe(0);
    expect(rewrapped.stdout).toContain('re-wrapped 1 tenant data key(s) and 2 signing key(s)');
    expect(rewrapped.stdout).not.toContain('new signing key');

    const server = await serve({ TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: newKey });
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: { alg: string }[] };
    expect(jwks.keys.map((k) => k.alg)).toEqual(['ES256', 'RS256']);
    expect(await server.stop()).toBe(0);

    const badAlg = await runCli(['keys', 'rotate', '--alg', 'HS256'], { TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: newKey });
    expect(badAlg.code).toBe(2);
  });
});

describe.runIf(process.env.TESSERA_TEST_DATABASE_URL)('tessera serve on PostgreSQL', { timeout: 180_000 }, () => {
  let t: TestDatabase;
  afterAll(() => t?.drop());

  it('migrates, bootstraps and serves with DATABASE_URL; SIGTERM exits cleanly', async () => {
    t = await createTestDatabase('postgres', { migrate: false });
    const env = { DATABASE_URL: t.config.url!, TESSERA_MASTER_KEY: randomBytes(32).toString('base64') };
    const migrated = await runCli(['migrate'], env);
    expect(migrated.code).toBe(0);
    const server = await serve(env);
    expect(server.output()).toContain('Tessera is set up');
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { status: string };
    expect(ready.status).toBe('ready');
    expect(await server.stop()).toBe(0);
    expect(server.output()).toContain('shutting down');
  });
});
