import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Config, type VariableName, variables } from './config.schema.js';

/** A configuration problem: each line names the variable, what is wrong and how to fix it. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Source = Record<string, string | undefined>;

/**
 * Reads the optional JSON config file named by TESSERA_CONFIG: an object whose keys are the same variable
 * names. Environment variables win over the file.
 */
function readConfigFile(file: string): Source {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`TESSERA_CONFIG: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix the path or unset it`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError([`TESSERA_CONFIG: ${file} is not valid JSON (${(error as Error).message})`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`TESSERA_CONFIG: ${file} must hold a JSON object of variable names to values`]);
  }
  const out: Source = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in variables)) problems.push(`${key} (in ${file}): unknown setting; known ones are listed in the README`);
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    else problems.push(`${key} (in ${file}): must be a string, number or boolean`);
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

function parseTrustProxy(value: string): boolean | number | string[] {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** A validated comma-separated CIDR list as an array (unset: empty). */
function cidrList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '');
}

/** Validates the environment once; the result is frozen. Throws ConfigError listing every problem. */
export function loadConfig(env: Source = process.env): Config {
  const file = env.TESSERA_CONFIG?.trim();
  const merged: Source = { ...(file ? readConfigFile(file) : {}) };
  for (const name of Object.keys(variables)) {
    const value = env[name];
    if (value !== undefined && value !== '') merged[name] = value;
  }

  const problems: string[] = [];
  const values: Partial<Record<VariableName, unknown>> = {};
  for (const [name, spec] of Object.entries(variables) as [VariableName, (typeof variables)[VariableName]][]) {
    const raw = merged[name] ?? spec.default;
    if (raw === undefined) continue;
    const result = spec.schema.safeParse(raw);
    if (result.success) values[name] = result.data;
    else problems.push(`${name}=${name.includes('KEY') || name.includes('PASSWORD') ? '<hidden>' : JSON.stringify(raw)}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (values.TESSERA_MASTER_KEY_PREVIOUS && !values.TESSERA_MASTER_KEY) {
    problems.push('TESSERA_MASTER_KEY_PREVIOUS is set but TESSERA_MASTER_KEY is not: set the new key in TESSERA_MASTER_KEY');
  }
  const metricsPort = values.TESSERA_METRICS_PORT as number | undefined;
  if (metricsPort !== undefined && metricsPort === values.PORT) {
    problems.push(`TESSERA_METRICS_PORT=${metricsPort}: must differ from PORT (metrics are never served on the public port); pick another port, e.g. 9464`);
  }
  if (problems.length) throw new ConfigError(problems);

  const port = values.PORT as number;
  const dataDir = path.resolve(values.TESSERA_DATA_DIR as string);
  const databaseUrl = values.DATABASE_URL as string | undefined;
  const config: Config = {
    port,
    host: values.HOST as string,
    publicUrl: (values.PUBLIC_URL as string | undefined) ?? `http://localhost:${port}`,
    database: { kind: databaseUrl ? 'postgres' : 'pglite', url: databaseUrl, dataDir, poolMax: values.TESSERA_DB_POOL_MAX as number },
    dataDir,
    masterKey: values.TESSERA_MASTER_KEY as Buffer | undefined,
    previousMasterKey: values.TESSERA_MASTER_KEY_PREVIOUS as Buffer | undefined,
    signingAlg: values.TESSERA_SIGNING_ALG as Config['signingAlg'],
    accessTokenTtlSeconds: values.TESSERA_ACCESS_TOKEN_TTL as number,
    refreshGraceSeconds: values.TESSERA_REFRESH_GRACE_SECONDS as number,
    tokenAudience: values.TESSERA_TOKEN_AUDIENCE as string | undefined,
    logLevel: values.LOG_LEVEL as string,
    bodyLimit: values.TESSERA_BODY_LIMIT as number,
    trustProxy: parseTrustProxy(values.TESSERA_TRUST_PROXY as string),
    shutdownTimeoutMs: values.TESSERA_SHUTDOWN_TIMEOUT_MS as number,
    autoMigrate: values.TESSERA_AUTO_MIGRATE as boolean,
    domains: {
      dnsServers: Object.freeze([...((values.TESSERA_DNS_SERVERS as string[] | undefined) ?? [])]),
      dnsTimeoutMs: values.TESSERA_DNS_TIMEOUT_MS as number,
      publicMailboxDomains: Object.freeze([...((values.TESSERA_PUBLIC_MAILBOX_DOMAINS as string[] | undefined) ?? [])]),
    },
    bootstrap: {
      adminEmail: ((values.TESSERA_ADMIN_EMAIL as string | undefined) ?? 'admin@tessera.local').toLowerCase(),
      adminPassword: values.TESSERA_ADMIN_PASSWORD as string | undefined,
      tenantName: values.TESSERA_BOOTSTRAP_TENANT as string,
      accountName: values.TESSERA_BOOTSTRAP_ACCOUNT as string,
    },
    metrics: { ...(metricsPort !== undefined ? { port: metricsPort } : {}), host: values.TESSERA_METRICS_HOST as string },
    sso: {
      allowLoopback: values.TESSERA_SSO_ALLOW_LOOPBACK as boolean,
      privateNetworks: cidrList(values.TESSERA_SSO_PRIVATE_NETWORKS as string | undefined),
      rateLimitPerMinute: values.TESSERA_SSO_RATE_LIMIT as number,
    },
    webhook: {
      allowLoopback: values.TESSERA_WEBHOOK_ALLOW_LOOPBACK as boolean,
      privateNetworks: cidrList(values.TESSERA_WEBHOOK_PRIVATE_NETWORKS as string | undefined),
    },
    applications: {
      allowLoopback: values.TESSERA_APPLICATION_ALLOW_LOOPBACK as boolean,
      privateNetworks: cidrList(values.TESSERA_APPLICATION_PRIVATE_NETWORKS as string | undefined),
    },
  };
  return Object.freeze({ ...config, database: Object.freeze(config.database), bootstrap: Object.freeze(config.bootstrap), domains: Object.freeze(config.domains), metrics: Object.freeze(config.metrics), sso: Object.freeze(config.sso), webhook: Object.freeze(config.webhook), applications: Object.freeze(config.applications) });
}
