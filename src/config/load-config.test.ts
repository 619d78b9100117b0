import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config.js';
import { variables } from './config.schema.js';
import { testTempDir } from '../../test/support/temp-dir.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has working defaults: embedded database, port 3000, RS256', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.database.kind).toBe('pglite');
    expect(config.dataDir).toBe(path.resolve('.tessera'));
    expect(config.signingAlg).toBe('RS256');
    expect(config.accessTokenTtlSeconds).toBe(300);
    expect(config.refreshGraceSeconds).toBe(10);
    expect(config.autoMigrate).toBe(true);
    expect(config.bootstrap.adminEmail).toBe('admin@tessera.local');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('selects PostgreSQL from DATABASE_URL and trims PUBLIC_URL', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u@db:5432/t', PUBLIC_URL: 'https://id.example.com/', PORT: '8080' });
    expect(config.database).toMatchObject({ kind: 'postgres', url: 'postgres://u@db:5432/t' });
    expect(config.publicUrl).toBe('https://id.example.com');
  });

  it.each([
    ['PORT', 'eighty', /PORT="eighty": must be a whole number/],
    ['PORT', '70000', /PORT="70000": must be at most 65535/],
    ['PUBLIC_URL', 'id.example.com', /PUBLIC_URL=.*must be an absolute http\(s\) URL/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL=.*must start with postgres:\/\//],
    ['TESSERA_SIGNING_ALG', 'HS256', /TESSERA_SIGNING_ALG="HS256": must be one of RS256, ES256, EdDSA \(HMAC and none are never allowed\)/],
    ['TESSERA_SIGNING_ALG', 'none', /must be one of RS256, ES256, EdDSA/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud": must be one of/],
    ['TESSERA_AUTO_MIGRATE', 'maybe', /TESSERA_AUTO_MIGRATE="maybe": must be true or false/],
    ['TESSERA_ADMIN_EMAIL', 'not-an-email', /TESSERA_ADMIN_EMAIL=.*must be an email address/],
    ['TESSERA_ACCESS_TOKEN_TTL', '5', /must be at least 30/],
    ['TESSERA_REFRESH_GRACE_SECONDS', '61', /TESSERA_REFRESH_GRACE_SECONDS="61": must be at most 60/],
    ['TESSERA_REFRESH_GRACE_SECONDS', '-1', /TESSERA_REFRESH_GRACE_SECONDS="-1": must be a whole number/],
  ])('rejects %s=%s with a message that names it and says how to fix it', (name, value, message) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('explains how to make a master key, and never echoes the bad one', () => {
    const [problem] = problems({ TESSERA_MASTER_KEY: 'c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0' });
    expect(problem).toMatch(/^TESSERA_MASTER_KEY=<hidden>: must be 32 random bytes in base64/);
    expect(problem).toContain('randomBytes(32)');
    expect(problem).not.toContain('c2VjcmV0');
  });

  it('reports every problem at once', () => {
    expect(problems({ PORT: 'x', LOG_LEVEL: 'y', TESSERA_TRUST_PROXY: 'true' })).toHaveLength(2);
  });

  it('refuses a previous master key without a current one', () => {
    expect(problems({ TESSERA_MASTER_KEY_PREVIOUS: randomBytes(32).toString('base64') })).toEqual([
      'TESSERA_MASTER_KEY_PREVIOUS is set but TESSERA_MASTER_KEY is not: set the new key in TESSERA_MASTER_KEY',
    ]);
  });

  it('reads a JSON config file, with the environment taking precedence', () => {
    const dir = testTempDir('config');
    const file = path.join(dir, 'tessera.json');
    writeFileSync(file, JSON.stringify({ PORT: 8080, LOG_LEVEL: 'debug', TESSERA_AUTO_MIGRATE: false }));
    const config = loadConfig({ TESSERA_CONFIG: file, LOG_LEVEL: 'warn' });
    expect(config.port).toBe(8080);
    expect(config.logLevel).toBe('warn');
    expect(config.autoMigrate).toBe(false);
  });

  it('names unknown keys, bad JSON and missing files in the config file', () => {
    const dir = testTempDir('config');
    const unknown = path.join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ PROT: 1 }));
    expect(problems({ TESSERA_CONFIG: unknown })[0]).toMatch(/^PROT \(in .*unknown\.json\): unknown setting/);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ "PORT": ');
    expect(problems({ TESSERA_CONFIG: bad })[0]).toMatch(/^TESSERA_CONFIG: .*bad\.json is not valid JSON/);
    expect(problems({ TESSERA_CONFIG: path.join(dir, 'absent.json') })[0]).toMatch(/^TESSERA_CONFIG: cannot read .*absent\.json \(ENOENT\)/);
  });

  it('reads the refresh grace window in whole seconds, 0 to 60', () => {
    expect(loadConfig({ TESSERA_REFRESH_GRACE_SECONDS: '0' }).refreshGraceSeconds).toBe(0);
    expect(loadConfig({ TESSERA_REFRESH_GRACE_SECONDS: '60' }).refreshGraceSeconds).toBe(60);
  });

  it('parses TESSERA_TRUST_PROXY as a flag, a hop count or an address list', () => {
    expect(loadConfig({ TESSERA_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TESSERA_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TESSERA_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });

  it('reads the webhook network settings apart from the SSO ones; refuses what is not a CIDR', () => {
    expect(loadConfig({}).webhook).toEqual({ allowLoopback: false, privateNetworks: [] });
    const config = loadConfig({ TESSERA_WEBHOOK_ALLOW_LOOPBACK: 'true', TESSERA_WEBHOOK_PRIVATE_NETWORKS: ' 10.30.0.0/24, fd00:30::/64 ', TESSERA_SSO_PRIVATE_NETWORKS: '10.20.0.0/16' });
    expect(config.webhook).toEqual({ allowLoopback: true, privateNetworks: ['10.30.0.0/24', 'fd00:30::/64'] });
    expect(config.sso).toMatchObject({ allowLoopback: false, privateNetworks: ['10.20.0.0/16'] });
    expect(Object.isFrozen(config.webhook)).toBe(true);
    expect(problems({ TESSERA_WEBHOOK_PRIVATE_NETWORKS: '10.30.0.0/24,siem.internal' })).toEqual([expect.stringMatching(/^TESSERA_WEBHOOK_PRIVATE_NETWORKS=.*must be comma-separated CIDRs/)]);
    expect(problems({ TESSERA_WEBHOOK_PRIVATE_NETWORKS: '10.30.0.0/33' })).toHaveLength(1);
    expect(problems({ TESSERA_WEBHOOK_ALLOW_LOOPBACK: 'maybe' })).toEqual([expect.stringMatching(/^TESSERA_WEBHOOK_ALLOW_LOOPBACK=/)]);
  });

  it('the README documents every variable', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(Object.keys(variables).length).toBeGreaterThan(0);
    const missing = Object.keys(variables).filter((name) => !readme.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
    // …each with the default the code applies ("—" when there is none).
    const wrongDefault = Object.entries(variables).filter(([name, spec]) => !readme.includes(`| \`${name}\` | ${spec.default === undefined ? '—' : `\`${spec.default}\``} |`));
    expect(wrongDefault.map(([name]) => name)).toEqual([]);
  });
});
