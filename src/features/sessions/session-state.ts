import type { Database } from '../../db/database.js';
import { type Principal, toPrincipal } from '../../kernel/principal.js';
import { type SessionStateRow as Row, readSessionStates, readSessionStatesOnce } from './sessions.store.js';

/** What the request hot path needs to know about a session, read together (DESIGN §3 step 2). */
export interface SessionState {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly accountId: string;
  readonly revoked: boolean;
  readonly expiresAt: Date;
  readonly userActive: boolean;
  readonly authzEpoch: number;
  /** The session's user, the principal identity owns, read in the same query (GET /api/v1/me shows it). */
  readonly user: Principal;
}

export interface SessionStateSource {
  read(tenantId: string, sessionId: string): Promise<SessionState | undefined>;
  /** Called by every revocation, right after its write: the next read must see it. */
  forgetSession(tenantId: string, sessionId: string): void;
  /** Called by every revocation of a user's sessions and every change to the user's record, right after its write. */
  forgetUser(tenantId: string, userId: string): void;
}

function toState(r: Row): SessionState {
  return {
    tenantId: r.tenant_id,
    sessionId: r.session_id,
    userId: r.user_id,
    accountId: r.account_id,
    revoked: r.revoked,
    expiresAt: new Date(r.expires_at),
    userActive: r.active,
    authzEpoch: Number(r.authz_epoch),
    user: toPrincipal(r),
  };
}

async function readStates(db: Database, keys: readonly { tenantId: string; sessionId: string }[]): Promise<Row[]> {
  const tenants = keys.map((k) => k.tenantId);
  const sessions = keys.map((k) => k.sessionId);
  if (db.appReads) return readSessionStatesOnce(db.appReads, tenants, sessions);
  return db.globalWork((tx) => readSessionStates(tx, tenants, sessions));
}

/**
 * PostgreSQL, many instances: every request reads the database, so a revocation on any instance is seen on
 * the next request everywhere. Reads are coalesced: a batch is sent at the end of the event-loop turn in which
 * its requests asked (`setImmediate`, after the poll phase has parsed every request that arrived together), or,
 * when `maxInFlight` batches are running, in the turn after one of them ends; so each read still starts after its
 * request arrived while the database answers many requests per round trip. A batch is one statement on a
 * connection of its own (`Database.appReads`), so `maxInFlight` defaults to their number: that many batches
 * overlap, and the server keeps working while the database answers (DESIGN §3: two batches in flight left the
 * server idle). One batch per turn, not one per request: a request that finds a connection free waits for the
 * others of its turn instead of taking the connection alone (BENCHMARKS.md, "Per core: one batch per event-loop
 * turn": batches of 13 requests instead of 7, half the statements).
 */
export function batchedStateSource(db: Database, { maxInFlight = db.appReads?.connections ?? 2, maxBatch = 500, onBatch = (_size: number): void => {} } = {}): SessionStateSource {
  type Waiter = { tenantId: string; sessionId: string; resolve: (s: SessionState | undefined) => void; reject: (e: unknown) => void };
  const pending: Waiter[] = [];
  let inFlight = 0;
  let scheduled = false;

  function schedule(): void {
    if (scheduled || pending.length === 0 || inFlight >= maxInFlight) return;
    scheduled = true;
    setImmediate(flush);
  }

  function flush(): void {
    scheduled = false;
    // Everything that asked before this turn's end goes in one batch (several only beyond maxBatch).
    while (inFlight < maxInFlight && pending.length > 0) send(pending.splice(0, maxBatch));
  }

  function send(batch: Waiter[]): void {
    inFlight++;
    onBatch(batch.length);
    readStates(db, batch)
      .then(
        (rows) => {
          const byKey = new Map(rows.map((r) => [`${r.tenant_id}/${r.session_id}`, toState(r)]));
          for (const w of batch) w.resolve(byKey.get(`${w.tenantId}/${w.sessionId}`));
        },
        (error: unknown) => {
          for (const w of batch) w.reject(error);
        },
      )
      .finally(() => {
        inFlight--;
        schedule();
      });
  }

  return {
    read(tenantId, sessionId) {
      return new Promise((resolve, reject) => {
        pending.push({ tenantId, sessionId, resolve, reject });
        schedule();
      });
    },
    forgetSession() {},
    forgetUser() {},
  };
}

/**
 * Embedded database, one process: every change to a session goes through this process, so the state is
 * served from memory (PGlite costs main-thread time per query, DESIGN §3). Each revocation, and each
 * change to a user's record (the profile rides in the state), forgets the entries right after its write;
 * PGlite runs one transaction at a time, so a read that misses waits for the writing transaction to end and
 * sees its outcome. A generation counter keeps a read that started before a revocation or change from
 * re-filling the cache with the old state.
 */
export function memoryStateSource(db: Database, { maxEntries = 50_000 } = {}): SessionStateSource {
  const cache = new Map<string, SessionState>();
  let generation = 0;
  return {
    async read(tenantId, sessionId) {
      const key = `${tenantId}/${sessionId}`;
      const hit = cache.get(key);
      if (hit) return hit;
      const started = generation;
      const [row] = await readStates(db, [{ tenantId, sessionId }]);
      const state = row && toState(row);
      if (state && started === generation) {
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
        cache.set(key, state);
      }
      return state;
    },
    forgetSession(tenantId, sessionId) {
      generation++;
      cache.delete(`${tenantId}/${sessionId}`);
    },
    forgetUser(tenantId, userId) {
      generation++;
      for (const [key, state] of cache) if (state.tenantId === tenantId && state.userId === userId) cache.delete(key);
    },
  };
}
