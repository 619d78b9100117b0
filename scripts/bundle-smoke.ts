// The offline bundle's proof (a CI step of .ci/run): the archive `npm run bundle` made, unpacked into a fresh
// directory and run with no network but loopback, passes health, a password login and an SSO sign-in.
//
//   unshare -n sh -c 'ip link set lo up && exec node --import tsx scripts/bundle-smoke.ts "$0"' release/tessera-<v>-linux-x64.tar.gz
//
// Run it inside a network namespace whose only interface is loopback (as root: `unshare -n`): its first check is
// that an outside address is unreachable (ENETUNREACH), and it fails when it is not.
//
// The bundle runs by itself: its own node (bin/tessera), from a temporary directory outside this checkout, with
// PATH=/usr/bin:/bin and no NODE_PATH, so no package of the checkout can stand in for a missing one. The OpenID
// Provider is a test tool, not part of the bundle: test/support/oidc-provider.ts (oidc-provider 9) runs here, in
// this process, under the checkout's node and tsx, in the same namespace.
//
// Everything it starts is stopped by PID (the server by SIGTERM, which it must survive with exit code 0), and its
// temporary directory is removed, whether the checks pass or not.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { requestJson } from '../test/support/http.js';
import { startOp, type TestOp } from '../test/support/oidc-provider.js';
import { createUserAgent, freePort } from '../test/support/user-agent.js';

const DEADLINE_MS = 150_000;
const DOMAIN = 'acme.test';
const ADMIN_EMAIL = `admin@${DOMAIN}`;
const NEW_PASSWORD = 'offline bundle smoke password 42';

type Body = Record<string, unknown>;

let checks = 0;
function pass(message: string): void {
  checks += 1;
  console.log(`ok ${checks} - ${message}`);
}
function fail(message: string): never {
  throw new Error(message);
}
function expect(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

/** A public address must be unreachable: the namespace has no route but loopback (RFC 1122 §3.2.2.1 net unreachable). */
function connectError(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 5_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** The environment of the bundle's processes: nothing of this checkout's (no TESSERA_*, NODE_*, npm_*), PATH minimal. */
function bundleEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), LANG: 'C.UTF-8', ...extra };
}

function runBundle(tessera: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): string {
  try {
    return execFileSync(tessera, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    fail(`bin/tessera ${args.join(' ')} failed (exit ${e.status}):\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

async function waitReady(url: string, server: ChildProcess, output: () => string): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (server.exitCode !== null) fail(`the bundled server exited with ${server.exitCode} before it was ready:\n${output()}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`the bundled server was not ready within 60 s:\n${output()}`);
}

async function stopServer(server: ChildProcess): Promise<number | null> {
  if (server.exitCode !== null || server.signalCode !== null) return server.exitCode;
  const exited = new Promise<number | null>((resolve) => server.once('close', (code) => resolve(code)));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 30_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

async function main(archive: string): Promise<void> {
  const started = Date.now();
  for (const [host, port] of [['1.1.1.1', 443], ['8.8.8.8', 53]] as const) {
    const outcome = await connectError(host, port);
    expect(outcome === 'ENETUNREACH', `a connection to ${host}:${port} ended with ${outcome}, not ENETUNREACH: run this inside a network namespace with loopback only (unshare -n)`);
  }
  pass('no route outside: connections to 1.1.1.1:443 and 8.8.8.8:53 fail with ENETUNREACH');

  const sums = readFileSync(`${archive}.sha256`, 'utf8').trim().split(/\s+/);
  const actual = createHash('sha256').update(readFileSync(archive)).digest('hex');
  expect(sums[0] === actual && sums[1] === path.basename(archive), `${archive}.sha256 does not match the archive (${sums.join(' ')} vs ${actual})`);
  pass(`the checksum file matches ${path.basename(archive)} (${(statSync(archive).size / 1e6).toFixed(1)} MB)`);

  const work = mkdtempSync(path.join(os.tmpdir(), 'tessera-bundle-smoke-'));
  let op: TestOp | undefined;
  let server: ChildProcess | undefined;
  let log = '';
  const deadline = setTimeout(() => {
    console.error(`not ok - the smoke test ran past ${DEADLINE_MS / 1000} s`);
    server?.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    process.exit(1);
  }, DEADLINE_MS);
  const onSignal = (signal: NodeJS.Signals) => {
    server?.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    execFileSync('tar', ['-xzf', archive, '-C', work]);
    const name = path.basename(archive).replace(/\.tar\.gz$/, '');
    // Installed as the README says: the versioned directory, a `current` link to it, and the command linked from
    // a bin directory (a relative link to a link), so the launcher must resolve its own directory through both.
    symlinkSync(name, path.join(work, 'current'));
    mkdirSync(path.join(work, 'bin'));
    symlinkSync('../current/bin/tessera', path.join(work, 'bin', 'tessera'));
    const bundleDir = path.join(work, name);
    const tessera = path.join(work, 'bin', 'tessera');
    const nodeVersion = execFileSync(path.join(bundleDir, 'node', 'bin', 'node'), ['--version'], { encoding: 'utf8', env: bundleEnv({}) }).trim();
    expect(/^v24\./.test(nodeVersion), `the bundled node is ${nodeVersion}, not Node 24`);
    pass(`unpacked into ${work}, run through ${tessera} -> ../current/bin/tessera; the bundled runtime is Node ${nodeVersion}`);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = bundleEnv({ TESSERA_DATA_DIR: path.join(work, 'data'), PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, TESSERA_SSO_ALLOW_LOOPBACK: 'true', LOG_LEVEL: 'warn' });

    // The operator's first steps, with the bundle's own command on a fresh data directory: a tenant and its
    // administrator (a one-time password), and the tenant's domain marked verified (no DNS in here).
    const created = JSON.parse(runBundle(tessera, ['bootstrap', '--json', '--tenant', 'Acme', '--account', 'Main', '--email', ADMIN_EMAIL], env, work)) as { tenantId: string; accountId: string; password: string | null; mustChangePassword: boolean };
    expect(created.password && created.mustChangePassword, `bootstrap did not print a one-time password: ${JSON.stringify(created)}`);
    pass(`bin/tessera bootstrap: tenant ${created.tenantId}, a one-time password for ${ADMIN_EMAIL}`);
    const verified = runBundle(tessera, ['domains', 'verify', DOMAIN, '--tenant', created.tenantId, '--force'], env, work);
    expect(verified.includes(`${DOMAIN}: verified`), `domains verify answered: ${verified}`);
    pass(`bin/tessera domains verify ${DOMAIN} --force: ${verified.trim()}`);

    op = await startOp({ redirectUri: `${url}/auth/sso/oidc/callback` });
    op.addAccount('u-alice', { email: `alice@${DOMAIN}`, email_verified: true, name: 'Alice' });
    pass(`test OpenID Provider on ${op.issuer}`);

    server = spawn(tessera, ['serve'], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitReady(url, server, () => log);
    const health = await fetch(`${url}/healthz`);
    expect(health.status === 200, `GET /healthz answered ${health.status}`);
    // The process that answers is the bundled node (the launcher execs it), not a node found on PATH.
    const exe = realpathSync(`/proc/${server.pid}/exe`);
    expect(exe === realpathSync(path.join(bundleDir, 'node', 'bin', 'node')), `the server runs ${exe}, not the bundled node`);
    pass(`bin/tessera serve (PID ${server.pid}, ${exe}) is ready; GET /healthz 200`);

    const login = await requestJson<Body>(url, 'POST', '/auth/login', { body: { email: ADMIN_EMAIL, password: created.password } });
    expect(login.status === 200 && login.body.status === 'password_change_required', `login with the one-time password answered ${login.status} ${JSON.stringify(login.body)}`);
    const changed = await requestJson<Body & { session?: { accessToken: string } }>(url, 'POST', '/auth/password/change', { body: { passwordChangeToken: login.body.passwordChangeToken, newPassword: NEW_PASSWORD } });
    expect(changed.status === 200 && changed.body.session, `the forced password change answered ${changed.status} ${JSON.stringify(changed.body)}`);
    const relogin = await requestJson<Body & { session?: { accessToken: string } }>(url, 'POST', '/auth/login', { body: { email: ADMIN_EMAIL, password: NEW_PASSWORD } });
    expect(relogin.status === 200 && relogin.body.status === 'authenticated' && relogin.body.session, `login with the new password answered ${relogin.status} ${JSON.stringify(relogin.body)}`);
    const admin = relogin.body.session.accessToken;
    pass('password login: the one-time password forces a change, the new password signs in (argon2 native addon)');

    const role = await requestJson<{ id: string }>(url, 'POST', '/api/v1/roles', { token: admin, body: { name: 'SSO users', permissions: ['idp.view'] } });
    expect(role.status === 201, `creating a role answered ${role.status} ${JSON.stringify(role.body)}`);
    const connection = await requestJson<{ id: string }>(url, 'POST', '/api/v1/sso/connections', {
      token: admin,
      body: { type: 'oidc', name: 'Internal IdP', enabled: true, domains: [DOMAIN], defaultRoleId: role.body.id, rules: [], oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } },
    });
    expect(connection.status === 201, `creating the OIDC connection answered ${connection.status} ${JSON.stringify(connection.body)}`);
    pass(`OIDC connection ${connection.body.id} for ${DOMAIN} (discovery fetched from the OP over loopback)`);

    const ua = createUserAgent();
    op.queueLogin('u-alice');
    const { chain } = await ua.navigate(`${url}/auth/sso/start?connection=${connection.body.id}&returnTo=${encodeURIComponent(`${url}/app`)}`);
    const landing = new URL(chain.at(-1)!);
    expect(landing.href === `${url}/app` && ua.jar.has('tessera_sso_result'), `the SSO sign-in did not land on ${url}/app with a result: ${chain.join(' -> ')}`);
    const resultResponse = await ua.request(`${url}/auth/sso/result`, { method: 'POST' });
    const result = (await resultResponse.json()) as Body & { session?: { accessToken: string } };
    expect(resultResponse.status === 200 && result.status === 'authenticated' && result.session, `POST /auth/sso/result answered ${resultResponse.status} ${JSON.stringify(result)}`);
    const me = await requestJson<Body>(url, 'GET', '/api/v1/me', { token: result.session.accessToken });
    expect(me.status === 200 && me.body.email === `alice@${DOMAIN}`, `GET /api/v1/me with the SSO session answered ${me.status} ${JSON.stringify(me.body)}`);
    pass(`SSO sign-in through the OP: ${chain.length} hops, a session for alice@${DOMAIN}`);

    const code = await stopServer(server);
    expect(code === 0, `the bundled server exited with ${code} after SIGTERM:\n${log}`);
    pass('the bundled server stopped cleanly on SIGTERM');
    console.log(`bundle smoke: ${checks} checks passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (err) {
    if (log) console.error(`--- bundled server output ---\n${log.split('\n').slice(-40).join('\n')}`);
    throw err;
  } finally {
    clearTimeout(deadline);
    if (server) await stopServer(server);
    await op?.close();
    rmSync(work, { recursive: true, force: true });
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

const archive = process.argv[2];
if (!archive || !archive.endsWith('.tar.gz')) {
  console.error('usage: node --import tsx scripts/bundle-smoke.ts release/tessera-<version>-linux-x64.tar.gz (inside unshare -n)');
  process.exit(2);
}
main(path.resolve(archive)).catch((err: unknown) => {
  console.error(`not ok - ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
