/**
 * What features report for the operator's metrics (docs/metrics.md), as a small port: features call it, the
 * metrics module (prom-client) implements it, and a feature built without it reports into `noTelemetry`.
 * Every label value is one of a fixed, small set named here or in code (never a user input, an id or a URL),
 * so the series a scrape returns stay bounded (Prometheus naming and instrumentation practices: "do not use
 * labels to store dimensions with high cardinality").
 */

/** The first factor, or the step, a login attempt was made with. `totp` is the second-factor step (a TOTP or a recovery code). */
export type LoginMethod = 'password' | 'totp' | 'oidc' | 'saml';

/**
 * How a login attempt ended: `success` (a session or an account choice), `next_step` (another factor, an
 * enrollment or a forced password change is asked for), `failure` (refused), `throttled` (refused before any
 * secret was checked: too many attempts).
 */
export type LoginOutcome = 'success' | 'next_step' | 'failure' | 'throttled';

export interface Telemetry {
  login(method: LoginMethod, outcome: LoginOutcome): void;
  /** A refresh-token rotation: `success`, or `failure` (invalid, expired, reused). */
  refresh(outcome: 'success' | 'failure'): void;
  /** Sessions ended early; `reason` is one of the fixed reasons the sessions feature passes (`logout`, `user_deactivated` …). */
  sessionsRevoked(reason: string, count: number): void;
  /** One event appended to a tenant's audit chain. */
  auditAppended(): void;
  /** The size of one coalesced per-request session-state read (DESIGN §3 step 2). */
  sessionStateBatch(size: number): void;
}

export const noTelemetry: Telemetry = {
  login: () => {},
  refresh: () => {},
  sessionsRevoked: () => {},
  auditAppended: () => {},
  sessionStateBatch: () => {},
};
