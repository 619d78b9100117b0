import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler, RouteOptions } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LoginMethod, LoginOutcome, Telemetry } from '../kernel/telemetry.js';

/**
 * The server's Prometheus metrics (docs/metrics.md lists each one and what it means). One registry per app
 * instance, never prom-client's global one: tests start many apps in one process, and two instances must not
 * count into each other. Label values come from fixed sets or from the declared route pattern, never from a
 * raw URL or an id, so the number of series stays bounded.
 */
export interface MetricsSources {
  /** Events waiting for webhook delivery (read at scrape time). */
  readonly webhookBacklog?: () => Promise<number>;
  /** PostgreSQL pool use now; absent on the embedded database. */
  readonly poolStats?: () => { readonly total: number; readonly idle: number; readonly waiting: number; readonly max: number };
  /** argon2 hashes running and waiting for a turn. */
  readonly passwordHashLoad?: () => { readonly running: number; readonly waiting: number };
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/** The SCIM operation a route serves, from its method and pattern (RFC 7644 §3: create, query, read, replace, patch, delete). */
function scimOperation(method: string, url: string): { resource: string; operation: string } | undefined {
  const match = /^\/scim\/v2\/:directoryId\/([A-Za-z]+)(\/:id)?$/.exec(url);
  if (!match) return undefined;
  const one = match[2] !== undefined;
  const operation =
    method === 'POST' ? 'create' : method === 'PUT' ? 'replace' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : method === 'GET' ? (one ? 'read' : 'query') : undefined;
  return operation ? { resource: match[1]!, operation } : undefined;
}

type RequestChild = { inc(): void };
type LatencyChild = { observe(value: number): void };
type Tracker = (request: FastifyRequest, reply: FastifyReply, done: () => void) => void;

export function createMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'tessera_' });

  const requests = new Counter({ name: 'tessera_http_requests_total', help: 'HTTP requests answered, by method, declared route pattern and status code.', labelNames: ['method', 'route', 'status'] as const, registers: [registry] });
  const latency = new Histogram({ name: 'tessera_http_request_duration_seconds', help: 'Time from receiving a request to having sent its answer, by method, declared route pattern and status code.', labelNames: ['method', 'route', 'status'] as const, buckets: LATENCY_BUCKETS, registers: [registry] });
  const logins = new Counter({ name: 'tessera_logins_total', help: 'Login steps by method (password, totp, oidc, saml) and outcome (success, next_step, failure, throttled).', labelNames: ['method', 'outcome'] as const, registers: [registry] });
  const refreshes = new Counter({ name: 'tessera_refreshes_total', help: 'Refresh-token rotations by outcome (success, failure).', labelNames: ['outcome'] as const, registers: [registry] });
  const revocations = new Counter({ name: 'tessera_session_revocations_total', help: 'Sessions ended before their expiry, by reason.', labelNames: ['reason'] as const, registers: [registry] });
  const throttled = new Counter({ name: 'tessera_throttled_total', help: 'Attempts refused for too many attempts: password and totp (login throttle), rate_limit (per-IP route limits).', labelNames: ['kind'] as const, registers: [registry] });
  const scim = new Counter({ name: 'tessera_scim_operations_total', help: 'SCIM requests by resource, operation and status code.', labelNames: ['resource', 'operation', 'status'] as const, registers: [registry] });
  const auditAppends = new Counter({ name: 'tessera_audit_appends_total', help: 'Events appended to tenants\' audit chains.', registers: [registry] });
  const batches = new Histogram({ name: 'tessera_session_state_batch_size', help: 'Requests answered by one coalesced session-state read (PostgreSQL).', buckets: BATCH_BUCKETS, registers: [registry] });

  const throttledKinds = { password: throttled.labels('password'), totp: throttled.labels('totp'), oidc: throttled.labels('oidc'), saml: throttled.labels('saml') };
  const rateLimited = throttled.labels('rate_limit');

  const telemetry: Telemetry = {
    login(method: LoginMethod, outcome: LoginOutcome) {
      logins.labels(method, outcome).inc();
      if (outcome === 'throttled') throttledKinds[method].inc();
    },
    refresh: (outcome) => refreshes.labels(outcome).inc(),
    sessionsRevoked: (reason, count) => revocations.labels(reason).inc(count),
    auditAppended: () => auditAppends.inc(),
    sessionStateBatch: (size) => batches.observe(size),
  };

  return {
    registry,
    telemetry,
    /** A request refused by a per-IP route limit (@fastify/rate-limit's onExceeded). */
    rateLimited: () => rateLimited.inc(),

    /** Gauges read at scrape time from the parts that hold the numbers; nothing is polled in between. */
    observe(sources: MetricsSources): void {
      if (sources.webhookBacklog) {
        const read = sources.webhookBacklog;
        new Gauge({
          name: 'tessera_audit_webhook_backlog',
          help: 'Audit events waiting for delivery to tenants\' webhooks.',
          registers: [registry],
          async collect() {
            this.set(await read());
          },
        });
      }
      if (sources.poolStats) {
        const read = sources.poolStats;
        new Gauge({
          name: 'tessera_db_pool_connections',
          help: 'PostgreSQL connections of this instance\'s pool: total open, idle, and requests waiting for one; max is the configured size.',
          labelNames: ['state'] as const,
          registers: [registry],
          collect() {
            const s = read();
            this.labels('total').set(s.total);
            this.labels('idle').set(s.idle);
            this.labels('waiting').set(s.waiting);
            this.labels('max').set(s.max);
          },
        });
      }
      if (sources.passwordHashLoad) {
        const read = sources.passwordHashLoad;
        new Gauge({
          name: 'tessera_password_hash_queue',
          help: 'argon2 password hashes running now and waiting for a turn (concurrency is bounded below the core count).',
          labelNames: ['state'] as const,
          registers: [registry],
          collect() {
            const load = read();
            this.labels('running').set(load.running);
            this.labels('waiting').set(load.waiting);
          },
        });
      }
    },

    /**
     * Counts every answer of `app` by its declared route pattern. Each route gets its own hook, built once when
     * the route is declared, that keeps its prom-client children per status code: per request, one map look-up
     * and two increments, no label object built. Must run before routes are declared.
     */
    instrument(app: FastifyInstance): void {
      const track = (method: string, route: string, scimOp: ReturnType<typeof scimOperation>): Tracker => {
        const byStatus = new Map<number, { requests: RequestChild; latency: LatencyChild; scim?: RequestChild }>();
        return (_request, reply, done) => {
          const status = reply.statusCode;
          let children = byStatus.get(status);
          if (!children) {
            const code = String(status);
            children = { requests: requests.labels(method, route, code), latency: latency.labels(method, route, code), ...(scimOp ? { scim: scim.labels(scimOp.resource, scimOp.operation, code) } : {}) };
            byStatus.set(status, children);
          }
          children.requests.inc();
          children.latency.observe(reply.elapsedTime / 1000);
          children.scim?.inc();
          done();
        };
      };
      // Requests no route matched: one series, whatever the URL.
      const unmatched = track('any', 'unmatched', undefined);
      app.addHook('onRoute', (route: RouteOptions) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        const byMethod = new Map(methods.map((method) => [method, track(method, route.url, scimOperation(method, route.url))]));
        const only = methods.length === 1 ? byMethod.get(methods[0]!)! : undefined;
        const tracker: Tracker = only ?? ((request, reply, done) => (byMethod.get(request.method) ?? unmatched)(request, reply, done));
        const hook = tracker as onResponseHookHandler;
        const existing = route.onResponse;
        route.onResponse = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook];
      });
      app.addHook('onResponse', (request, reply, done) => {
        if (request.is404) unmatched(request, reply, done);
        else done();
      });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
