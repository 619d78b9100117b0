import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Every setting the server reads, by its environment variable name. The README's table is written from
 * this list; `describeVariables()` keeps the two in step (a test compares them).
 */
export const SIGNING_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

const MASTER_KEY_HINT =
  'must be 32 random bytes in base64 (44 characters). Make one with: ' +
  `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`;

const masterKey = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length !== 32 || bytes.toString('base64') !== value) {
      ctx.addIssue({ code: 'custom', message: MASTER_KEY_HINT });
      return z.NEVER;
    }
    return bytes;
  });

const integer = (min: number, max: number, hint: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number (${hint})`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min} (${hint})`).max(max, `must be at most ${max} (${hint})`));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const httpUrl = (what: string) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    }, `must be an absolute http(s) URL (${what})`)
    .transform((v) => v.replace(/\/+$/, ''));

/** `address/prefix`, IPv4 or IPv6. */
function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (rest.length > 0 || family === 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

export const variables = {
  PORT: { schema: integer(0, 65535, 'the TCP port to listen on'), default: '3000', doc: 'TCP port the server listens on.' },
  HOST: { schema: z.string().trim().min(1), default: '0.0.0.0', doc: 'Interface to bind (`127.0.0.1` to accept only local connections).' },
  PUBLIC_URL: {
    schema: httpUrl('the address users reach this server at, e.g. https://id.example.com'),
    default: undefined,
    doc: 'The address users and IdPs reach this server at; used for links, callbacks and the token issuer. Default `http://localhost:$PORT`.',
  },
  DATABASE_URL: {
    schema: z
      .string()
      .trim()
      .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must start with postgres:// or postgresql:// (e.g. postgres://tessera@db:5432/tessera)'),
    default: undefined,
    doc: 'PostgreSQL connection string. Unset: the embedded database (PGlite) in `TESSERA_DATA_DIR`.',
  },
  TESSERA_DATA_DIR: { schema: z.string().trim().min(1), default: './.tessera', doc: 'Directory of the embedded database and, if no master key is given, the generated one.' },
  TESSERA_MASTER_KEY: {
    schema: masterKey,
    default: undefined,
    doc: 'Master key that wraps the per-tenant data keys: 32 random bytes, base64. Required with PostgreSQL; generated into the data directory in embedded mode.',
  },
  TESSERA_MASTER_KEY_PREVIOUS: {
    schema: masterKey,
    default: undefined,
    doc: 'The master key being replaced; set it with the new `TESSERA_MASTER_KEY` and run `tessera keys rotate` to re-wrap.',
  },
  TESSERA_SIGNING_ALG: {
    schema: z.enum(SIGNING_ALGORITHMS, { error: `must be one of ${SIGNING_ALGORITHMS.join(', ')} (HMAC and none are never allowed)` }),
    default: 'RS256',
    doc: 'Algorithm of new token signing keys: `RS256` (default), `ES256` or `EdDSA`.',
  },
  TESSERA_ACCESS_TOKEN_TTL: {
    schema: integer(30, 3600, 'access token lifetime in seconds'),
    default: '300',
    doc: 'Access token lifetime in seconds (default 300). Retired signing keys stay published this long plus a minute.',
  },
  TESSERA_REFRESH_GRACE_SECONDS: {
    schema: integer(0, 60, 'seconds a rotated refresh token may be presented again for the same successor'),
    default: '10',
    doc: 'Seconds after a refresh during which the spent refresh token, sent again (two tabs racing), gets the same successor instead of counting as a reuse (default 10; 0 turns the allowance off).',
  },
  TESSERA_LOGIN_HASH_PERCENT: {
    schema: integer(5, 100, 'percent of one core password logins may hash with while authenticated requests are waiting'),
    default: '30',
    doc: 'Percent of one core that password hashing at login may take while authenticated requests are arriving (default 30): logins then wait their turn so that other requests keep the rest. With no such traffic, logins hash at full speed.',
  },
  TESSERA_LOGIN_QUEUE: {
    schema: integer(1, 100000, 'password logins waiting for their hashing turn, at most'),
    default: '64',
    doc: 'Password logins waiting for (or in) their hashing turn, at most (default 64); past it a login is answered 503 `sessions.login_busy` with `Retry-After`, at once and with nothing counted.',
  },
  TESSERA_LOGIN_QUEUE_PER_ADDRESS: {
    schema: integer(1, 100000, 'password logins of one source address waiting for their hashing turn, at most'),
    default: '8',
    doc: 'Of those, at most this many from one source address (an IPv6 address counts for its /64; default 8), so one address cannot fill the line for everyone.',
  },
  TESSERA_TOKEN_AUDIENCE: {
    schema: z.string().trim().min(1).max(200),
    default: undefined,
    doc: '`aud` claim of access tokens, checked on every request when set (e.g. the URL of your API). Unset: no audience.',
  },
  LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'must be one of fatal, error, warn, info, debug, trace, silent' }),
    default: 'info',
    doc: 'Log level of the JSON logs on standard output.',
  },
  TESSERA_BODY_LIMIT: { schema: integer(1024, 50 * 1024 * 1024, 'maximum request body in bytes'), default: String(1024 * 1024), doc: 'Largest accepted request body in bytes (default 1 MiB).' },
  TESSERA_TRUST_PROXY: {
    schema: z.string().trim().min(1),
    default: 'false',
    doc: '`false`, `true`, a hop count, or a comma-separated list of proxy addresses/CIDRs whose `X-Forwarded-*` headers are believed.',
  },
  TESSERA_DB_POOL_MAX: { schema: integer(1, 500, 'PostgreSQL connections per instance'), default: '10', doc: 'PostgreSQL connections per instance.' },
  TESSERA_DB_SESSION_READERS: {
    schema: integer(1, 64, 'PostgreSQL connections for the per-request session read'),
    // Measured with the server pinned to one core (BENCHMARKS.md, "Per core"), when a batch was sent as soon as a
    // connection was free: 1 → 0.28 of bare Fastify (the core idles waiting), 2 → 0.29, 3 → 0.26, 4 → 0.23, 8 → 0.16.
    // A batch is now sent once per event-loop turn, so more connections no longer mean batches of one: with 4 the
    // server's CPU per request was the lowest in every paired run, 2 or before (BENCHMARKS.md, "Per core: one batch
    // per event-loop turn").
    default: '4',
    doc: 'PostgreSQL only: connections kept, besides `TESSERA_DB_POOL_MAX`, for the session read every authenticated request makes; each carries one batch (the requests that arrived in one event-loop turn, or while the connections were busy) at a time, so this many batches overlap and hide the round trip. Raise it when PostgreSQL is far (high round-trip time) and the server\'s core idles; each connection is one more PostgreSQL backend per instance.',
  },
  TESSERA_SHUTDOWN_TIMEOUT_MS: {
    schema: integer(0, 600_000, 'milliseconds to let in-flight requests finish on SIGTERM'),
    default: '10000',
    doc: 'How long SIGTERM waits for in-flight requests before closing anyway.',
  },
  TESSERA_AUTO_MIGRATE: { schema: bool, default: 'true', doc: '`serve` applies pending migrations at start (under an advisory lock). Set `false` to require `tessera migrate`.' },
  TESSERA_ADMIN_EMAIL: {
    schema: z.email({ error: 'must be an email address' }),
    default: undefined,
    doc: 'Email of the administrator created on first start. Default `admin@tessera.local`.',
  },
  TESSERA_ADMIN_PASSWORD: {
    schema: z.string().min(8, 'must be at least 8 characters').max(128, 'must be at most 128 characters'),
    default: undefined,
    doc: 'Password of that administrator. Unset: a one-time password is generated and printed once.',
  },
  TESSERA_DNS_SERVERS: {
    schema: z
      .string()
      .trim()
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .refine((list) => list.every((s) => /^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-fA-F:.]+\](:\d{1,5})?|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)$/.test(s)), 'must be a comma-separated list of IP addresses, each with an optional :port (e.g. 10.0.0.53,10.0.0.54:5353)'),
    default: undefined,
    doc: 'DNS servers for domain verification (TXT look-ups), comma-separated `ip` or `ip:port`. Unset: the system resolvers. Set it to reach internal DNS.',
  },
  TESSERA_DNS_TIMEOUT_MS: { schema: integer(100, 60_000, 'milliseconds a DNS query may take'), default: '5000', doc: 'How long one DNS query of a domain verification may take, in milliseconds (default 5000; two tries).' },
  TESSERA_PUBLIC_MAILBOX_DOMAINS: {
    schema: z
      .string()
      .trim()
      .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)),
    default: undefined,
    doc: 'Extra public mailbox domains (comma-separated) refused as tenant domains, on top of the shipped list (`email-providers` plus the repository\'s own).',
  },
  TESSERA_BOOTSTRAP_TENANT: { schema: z.string().trim().min(1).max(200), default: 'Default', doc: 'Name of the tenant created on first start.' },
  TESSERA_BOOTSTRAP_ACCOUNT: { schema: z.string().trim().min(1).max(200), default: 'Default', doc: 'Name of the account created on first start.' },
  TESSERA_SSO_ALLOW_LOOPBACK: {
    schema: bool,
    default: 'false',
    doc: 'Development and tests only: SSO issuers may be `http://localhost` / `http://127.0.0.1` and may resolve to loopback addresses. Never set in production.',
  },
  TESSERA_SSO_PRIVATE_NETWORKS: {
    schema: z
      .string()
      .trim()
      .refine((v) => v.split(',').map((c) => c.trim()).filter((c) => c !== '').every(isCidr), 'must be comma-separated CIDRs such as 10.20.0.0/16 or fd00::/8'),
    default: undefined,
    doc: 'Comma-separated CIDRs (e.g. `10.20.0.0/16,fd00::/8`) an SSO issuer may resolve to although they are private; for IdPs on an internal network (air-gapped installs). Default: none, private and loopback addresses are refused.',
  },
  TESSERA_WEBHOOK_ALLOW_LOOPBACK: {
    schema: bool,
    default: 'false',
    doc: 'Development and tests only: audit SIEM webhooks may be delivered to loopback addresses (`127.0.0.1`, `::1`, names resolving to them). Never set in production.',
  },
  TESSERA_WEBHOOK_PRIVATE_NETWORKS: {
    schema: z
      .string()
      .trim()
      .refine((v) => v.split(',').map((c) => c.trim()).filter((c) => c !== '').every(isCidr), 'must be comma-separated CIDRs such as 10.20.0.0/16 or fd00::/8'),
    default: undefined,
    doc: 'Comma-separated CIDRs (e.g. `10.30.0.0/24`) an audit SIEM webhook may resolve to although they are private; for a SIEM on an internal network. Default: none, private, link-local and loopback addresses are refused (each attempt is a failed delivery, retried).',
  },
  TESSERA_APPLICATION_ALLOW_LOOPBACK: {
    schema: bool,
    default: 'false',
    doc: 'Development and tests only: OpenID Provider back-channel logout tokens may be delivered to applications on loopback addresses (`127.0.0.1`, `::1`, names resolving to them). Never set in production.',
  },
  TESSERA_APPLICATION_PRIVATE_NETWORKS: {
    schema: z
      .string()
      .trim()
      .refine((v) => v.split(',').map((c) => c.trim()).filter((c) => c !== '').every(isCidr), 'must be comma-separated CIDRs such as 10.20.0.0/16 or fd00::/8'),
    default: undefined,
    doc: 'Comma-separated CIDRs (e.g. `10.40.0.0/16`) an application\'s back-channel logout URI may resolve to although they are private; for applications on an internal network. Default: none, private, link-local and loopback addresses are refused (each attempt is a failed delivery, retried, then audited).',
  },
  TESSERA_METRICS_PORT: {
    schema: integer(1, 65535, 'the TCP port of the metrics listener'),
    default: undefined,
    doc: 'Port of the Prometheus metrics listener (`GET /metrics`, docs/metrics.md). Unset: no metrics. Always a listener of its own, never the public `PORT`.',
  },
  TESSERA_METRICS_HOST: {
    schema: z.string().trim().min(1),
    default: '127.0.0.1',
    doc: 'Interface the metrics listener binds (default `127.0.0.1`: this machine only). Set an internal address (or `0.0.0.0`) only where a firewall keeps it from the public.',
  },
  TESSERA_SSO_RATE_LIMIT: {
    schema: integer(0, 1_000_000, 'requests per minute per client IP'),
    default: '300',
    doc: 'Requests one client IP may make per minute, per instance, to each public SSO route that writes or parses (`POST /auth/sso/discover`, `GET /auth/sso/start`, the OIDC callback, the SAML ACS); more answer `429 rate_limited`. Raise it when many users sign in from behind one NAT address; `0` turns the limit off.',
  },
} as const;

export type VariableName = keyof typeof variables;

export interface DatabaseConfig {
  readonly kind: 'pglite' | 'postgres';
  readonly url?: string;
  readonly dataDir: string;
  readonly poolMax: number;
  /** PostgreSQL: connections kept for the per-request session read (DESIGN §3 step 2), besides `poolMax`. */
  readonly sessionReaders?: number;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
  readonly database: DatabaseConfig;
  readonly dataDir: string;
  readonly masterKey?: Buffer;
  readonly previousMasterKey?: Buffer;
  readonly signingAlg: SigningAlgorithm;
  readonly accessTokenTtlSeconds: number;
  readonly refreshGraceSeconds: number;
  /** Login admission (sessions login-admission.ts): hashing's share of a core under traffic, the line and its per-address part. */
  readonly loginAdmission: { readonly share: number; readonly queueLimit: number; readonly perAddressLimit: number };
  readonly tokenAudience?: string;
  readonly logLevel: string;
  readonly bodyLimit: number;
  readonly trustProxy: boolean | number | string[];
  readonly shutdownTimeoutMs: number;
  readonly autoMigrate: boolean;
  /** Domain verification: DNS servers (empty: the system's), query timeout, extra public mailbox domains. */
  readonly domains: {
    readonly dnsServers: readonly string[];
    readonly dnsTimeoutMs: number;
    readonly publicMailboxDomains: readonly string[];
  };
  readonly bootstrap: {
    readonly adminEmail: string;
    readonly adminPassword?: string;
    readonly tenantName: string;
    readonly accountName: string;
  };
  /** The Prometheus metrics listener: off unless a port is given; its own port, never the public one. */
  readonly metrics: { readonly port?: number; readonly host: string };
  /** Where SSO may reach an IdP (server-side request forgery guard, OWASP SSRF prevention). */
  readonly sso: {
    readonly allowLoopback: boolean;
    readonly privateNetworks: readonly string[];
    /** Per client IP per minute on the public SSO routes; 0: no limit. */
    readonly rateLimitPerMinute: number;
  };
  /** Where audit SIEM webhooks may be delivered (the same server-side request forgery guard as SSO). */
  readonly webhook: {
    readonly allowLoopback: boolean;
    readonly privateNetworks: readonly string[];
  };
  /** Where the OpenID Provider calls applications (back-channel logout URIs): the same guard. */
  readonly applications: {
    readonly allowLoopback: boolean;
    readonly privateNetworks: readonly string[];
  };
}
