import { ipSubject } from './throttle-policy.js';

/**
 * Login admission: password hashing gets a CPU budget that yields to authenticated traffic (DESIGN §3 step 4,
 * docs/login-pipeline.md "Admission").
 *
 * Bounding how many hashes run at once is not enough when hash threads and the event loop share a core: an
 * argon2id verification is ~10 ms of one core, and a flood of right passwords keeps a hash thread busy all the
 * time, so the operating system gives the event loop about half of the core and every authenticated request
 * waits. So while authenticated requests are arriving, hashes start no closer together than `cost / share`, the
 * cost being a whole login's, since the rest of a login (its units of work, its signature; on the embedded database,
 * the database itself) runs on the event loop: logins then take at most `share` of a core and the rest is the
 * traffic's. The cost is the larger of two estimates: the smallest wall time a login has taken from its start to its
 * end, less its wait in the line (argon2id with p = 1 runs on one thread, so a login never takes less wall time than
 * the CPU it spends one step after the other), and the process's CPU per login measured while logins were all it
 * served (which also counts what a login costs outside its own span: its request's parsing and answer, its garbage,
 * the hash thread's switches — on the embedded database the wall-time estimate alone let logins take 0.43 of the core
 * for a share of 0.30, BENCHMARKS.md "third quiet run"). With no authenticated traffic, hashes run back to back (only
 * the hasher's concurrency bound applies).
 *
 * Logins wait for their turn in a bounded line. Past it, or past `perAddressLimit` logins of one source address
 * (IPv6 per /64, throttle-policy.ts ipSubject) in the line, the login is refused at once with
 * `sessions.login_busy` (503, Retry-After) before anything else happens: no statement, no throttle counter, no
 * hash. A login in the line holds its slot and its already-counted throttle attempt (the per-account and
 * per-address throttle runs before the wait, so a blocked key is refused with 429 without taking a slot), and
 * nothing else: no database connection, no transaction, no thread.
 */
export interface AdmissionTimers {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds. */
  later(fn: () => void, ms: number): void;
  /** The process's CPU time so far (every thread), in ms; without it the cost is estimated from wall time only. */
  cpuMs?(): number;
}

export interface LoginAdmissionOptions {
  /** Share of one core that login hashing may take while authenticated requests are arriving (0 < share ≤ 1). */
  readonly share: number;
  /** Logins admitted and not yet done hashing, at most (the line). */
  readonly queueLimit: number;
  /** Of those, at most this many from one source address. */
  readonly perAddressLimit: number;
  /** Hashes running at once, at most (the hasher bounds it too). */
  readonly concurrency: number;
  /** Whether authenticated requests are waiting to be served now (RequestDemand.waiting). */
  readonly demand: () => boolean;
  readonly timers?: AdmissionTimers;
  /** The cost of one verification assumed before one was measured, in ms. */
  readonly initialCostMs?: number;
}

export const LOGIN_ADMISSION_DEFAULTS = { share: 0.3, queueLimit: 64, perAddressLimit: 8 } as const;

export type AdmissionEntry =
  | { readonly admitted: true; readonly ticket: AdmissionTicket }
  | { readonly admitted: false; readonly retryAfterSeconds: number; readonly reason: 'line_full' | 'address_full' };

export interface AdmissionTicket {
  /** Runs one hash when its turn comes (first come, first served), within the budget. */
  hash<T>(work: () => Promise<T>): Promise<T>;
  /** Gives the slot back (idempotent). */
  leave(): void;
}

const realTimers: AdmissionTimers = {
  now: () => performance.now(),
  later: (fn, ms) => {
    setTimeout(fn, ms).unref();
  },
  cpuMs: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  },
};

/** Logins a CPU calibration window spans (below). */
const CPU_WINDOW_LOGINS = 8;

export function createLoginAdmission(options: LoginAdmissionOptions) {
  const { share, queueLimit, perAddressLimit, concurrency, demand } = options;
  if (!(share > 0 && share <= 1)) throw new RangeError('login admission share must be in (0, 1]');
  const timers = options.timers ?? realTimers;
  const perAddress = new Map<string, number>();
  const line: (() => void)[] = [];
  let held = 0;
  let running = 0;
  let wallCostMs = options.initialCostMs ?? 10;
  let measured = false;
  // The login's CPU cost measured from the process's CPU (below), once a window was seen.
  let cpuCostMs: number | undefined;
  let loginsDone = 0;
  let window: { cpuMs: number; logins: number } | undefined;
  // Never below either estimate: the wall-time one counts what the login waits for, the CPU one what it spends
  // outside its own span (its request's parsing and answer, the garbage it leaves, the hash thread's switches).
  const costMs = () => Math.max(wallCostMs, cpuCostMs ?? 0);
  let lastStartAt = -Infinity;
  let timerAt = Infinity;

  const spacingMs = () => costMs() / share;

  function pump(): void {
    while (line.length > 0 && running < concurrency) {
      const now = timers.now();
      // Spaced from the last start only while traffic is waiting; else hashes run back to back.
      const turn = lastStartAt + spacingMs();
      if (now < turn && demand()) {
        // A new estimate may bring the turn forward: then an earlier timer too (a stale one only re-checks).
        if (turn < timerAt) {
          timerAt = turn;
          timers.later(() => {
            timerAt = Infinity;
            pump();
          }, turn - now);
        }
        return;
      }
      lastStartAt = now;
      running++;
      line.shift()!();
    }
  }

  function observe(ms: number): void {
    // The smallest wall time seen is the best estimate of the CPU time (a login never takes less wall time
    // than the CPU time it spends on one thread after the other); it only goes down, so contention never makes
    // the budget looser.
    if (!measured || ms < wallCostMs) wallCostMs = ms;
    measured = true;
    loginsDone++;
    calibrate();
  }

  /**
   * The process's CPU per login while logins are all it serves: while no authenticated request is waiting, each
   * run of CPU_WINDOW_LOGINS logins gives a sample (process CPU over the window ÷ logins); the smallest sample is
   * the estimate, so other work that ran in a window (a health check, a background job) never makes the budget
   * looser, only, until a cleaner window, tighter. A window with authenticated traffic in it is dropped.
   */
  function calibrate(): void {
    if (!timers.cpuMs) return;
    if (demand()) {
      window = undefined;
      return;
    }
    const cpuMs = timers.cpuMs();
    if (window === undefined) {
      window = { cpuMs, logins: loginsDone };
      return;
    }
    const logins = loginsDone - window.logins;
    if (logins < CPU_WINDOW_LOGINS) return;
    const sample = (cpuMs - window.cpuMs) / logins;
    if (cpuCostMs === undefined || sample < cpuCostMs) cpuCostMs = sample;
    window = { cpuMs, logins: loginsDone };
  }

  return {
    /** Takes a slot in the line for a login from `ip`, or refuses it at once (nothing else happens). */
    enter(ip: string): AdmissionEntry {
      const subject = ipSubject(ip);
      const mine = perAddress.get(subject) ?? 0;
      if (held >= queueLimit || mine >= perAddressLimit) {
        // The line drains at one hash per spacing at worst: its length is the wait.
        const retryAfterSeconds = Math.max(1, Math.ceil((Math.max(held, 1) * spacingMs()) / 1000));
        return { admitted: false, retryAfterSeconds, reason: held >= queueLimit ? 'line_full' : 'address_full' };
      }
      held++;
      perAddress.set(subject, mine + 1);
      let left = false;
      const enteredAt = timers.now();
      let beforeHashMs = 0;
      let firstStart: number | undefined;
      let hashes = 0;
      const ticket: AdmissionTicket = {
        async hash<T>(work: () => Promise<T>): Promise<T> {
          // The login's work before its hash (the throttle's unit of work, the account read) runs on the event
          // loop too — on the embedded database, the database itself: it is part of the login's cost. The wait in
          // the line that follows is not.
          if (firstStart === undefined) beforeHashMs = timers.now() - enteredAt;
          await new Promise<void>((resolve) => {
            line.push(resolve);
            pump();
          });
          firstStart ??= timers.now();
          hashes++;
          try {
            return await work();
          } finally {
            running--;
            pump();
          }
        },
        leave() {
          if (left) return;
          left = true;
          // The login's cost: its work before the hash, then from its hash's start to its end (the hash, then its
          // unit of work and signatures, which run on the event loop: on the embedded database that is most of a
          // login's CPU besides the hash). Logins of one hash only, so that a sample is one login.
          if (firstStart !== undefined && hashes === 1) observe(beforeHashMs + timers.now() - firstStart);
          held--;
          pump();
          const n = (perAddress.get(subject) ?? 1) - 1;
          if (n === 0) perAddress.delete(subject);
          else perAddress.set(subject, n);
        },
      };
      return { admitted: true, ticket };
    },

    /** Logins holding a slot, hashes running, and the current estimate of one hash's cost (metrics, tests). */
    state: () => ({ held, running, waiting: line.length, costMs: costMs(), wallCostMs, cpuCostMs, spacingMs: spacingMs() }),
  };
}

export type LoginAdmission = ReturnType<typeof createLoginAdmission>;

/**
 * The admission's signal: authenticated requests (those carrying an `Authorization` header) arriving. The HTTP
 * server calls `observe` for every request (one header check and one increment); the admission asks `waiting()`,
 * which is true while one arrived within the last `windowMs`. Arrivals are noticed when the admission looks, so
 * the window is measured from then: at most `windowMs` plus the gap between two looks.
 */
export function createRequestDemand(options: { windowMs?: number; now?: () => number } = {}) {
  const windowMs = options.windowMs ?? 250;
  const now = options.now ?? (() => performance.now());
  let arrivals = 0;
  let seen = 0;
  let lastSeenAt = -Infinity;
  return {
    observe: (request: { headers: { authorization?: string | undefined } }): void => {
      if (request.headers.authorization !== undefined) arrivals++;
    },
    /** Authenticated requests seen so far (tests, metrics). */
    arrivals: (): number => arrivals,
    waiting(): boolean {
      const t = now();
      if (arrivals !== seen) {
        seen = arrivals;
        lastSeenAt = t;
      }
      return t - lastSeenAt < windowMs;
    },
  };
}

export type RequestDemand = ReturnType<typeof createRequestDemand>;
