import { type RawBuilder, sql } from 'kysely';
import type { AppReads, Database, Tx } from '../../db/database.js';
import type { PrincipalRow } from '../../kernel/principal.js';

/**
 * SQL of the sessions feature, on its own tables only (sessions, refresh_tokens, used_tokens, login_throttles):
 * users are identity's, assignments rbac's, accounts the tenants feature's, signing keys the keys feature's.
 * Every function takes the tenant first and filters on it (RLS is the second wall); the throttle table is global.
 */

export interface NewSession {
  id: string;
  userId: string;
  accountId: string;
  amr: string[];
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  expiresAt: Date;
  /** When the user authenticated (OIDC Core §2 `auth_time`); kept across account switches and refreshes. */
  authTime: Date;
  /** The identity-source login the session comes from (sso's record id), or null (a password). */
  sourceId?: string | null;
}

/**
 * A new session and its first refresh token, in one statement: the token row is inserted from the session row
 * the statement returns, so it exists only with its session.
 */
export async function insertSession(tx: Tx, tenantId: string, s: NewSession, refresh: { tokenHash: Buffer; expiresAt: Date }): Promise<void> {
  await tx
    .with('session', (db) =>
      db
        .insertInto('sessions')
        .values({
          tenant_id: tenantId,
          id: s.id,
          user_id: s.userId,
          account_id: s.accountId,
          amr: s.amr,
          user_agent: s.userAgent,
          ip: s.ip,
          created_at: s.createdAt,
          last_seen_at: s.createdAt,
          expires_at: s.expiresAt,
          auth_time: s.authTime,
          source_id: s.sourceId ?? null,
        })
        .returning(['tenant_id', 'id', 'created_at']),
    )
    .insertInto('refresh_tokens')
    .columns(['tenant_id', 'token_hash', 'session_id', 'created_at', 'expires_at'])
    .expression((db) => db.selectFrom('session').select((eb) => ['tenant_id', eb.val(refresh.tokenHash).as('token_hash'), 'id', 'created_at', eb.val(refresh.expiresAt).as('expires_at')]))
    .execute();
}

export async function findSession(tx: Tx, tenantId: string, sessionId: string) {
  return tx.selectFrom('sessions').selectAll().where('tenant_id', '=', tenantId).where('id', '=', sessionId).executeTakeFirst();
}

/** Revokes live sessions matching the filter; returns the ids revoked. */
export async function revokeSessions(tx: Tx, tenantId: string, filter: { sessionId?: string; userId?: string; exceptSessionId?: string; sourceIds?: readonly string[] }, now: Date, reason: string): Promise<string[]> {
  return (await revokeSessionsOfUsers(tx, tenantId, filter, now, reason)).map((r) => r.id);
}

/** The same, with each revoked session's user. */
export async function revokeSessionsOfUsers(
  tx: Tx,
  tenantId: string,
  filter: { sessionId?: string; userId?: string; exceptSessionId?: string; sourceIds?: readonly string[] },
  now: Date,
  reason: string,
): Promise<{ id: string; userId: string }[]> {
  // No source named: nothing to revoke (never "every session of the tenant").
  if (filter.sourceIds !== undefined && filter.sourceIds.length === 0) return [];
  let q = tx
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('tenant_id', '=', tenantId)
    .where('revoked_at', 'is', null);
  if (filter.sessionId) q = q.where('id', '=', filter.sessionId);
  if (filter.userId) q = q.where('user_id', '=', filter.userId);
  if (filter.exceptSessionId) q = q.where('id', '<>', filter.exceptSessionId);
  if (filter.sourceIds) q = q.where('source_id', 'in', [...filter.sourceIds]);
  const rows = await q.returning(['id', 'user_id']).execute();
  return rows.map((r) => ({ id: r.id, userId: r.user_id }));
}

export async function listLiveSessionsOfUser(tx: Tx, tenantId: string, userId: string, now: Date) {
  return tx
    .selectFrom('sessions')
    .select(['id', 'account_id', 'amr', 'user_agent', 'ip', 'created_at', 'last_seen_at', 'expires_at'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('last_seen_at', 'desc')
    .execute();
}

/** The refresh token row, locked until the end of the transaction so that concurrent rotations queue. */
export async function lockRefreshToken(tx: Tx, tenantId: string, tokenHash: Buffer) {
  return tx
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('token_hash', '=', tokenHash)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * The refresh token with its session, the token row locked until the end of the transaction so that
 * concurrent rotations of the same token queue (the session row is not locked).
 */
export async function lockRefreshChain(tx: Tx, tenantId: string, tokenHash: Buffer) {
  return tx
    .selectFrom('refresh_tokens as rt')
    .innerJoin('sessions as s', (j) => j.onRef('s.tenant_id', '=', 'rt.tenant_id').onRef('s.id', '=', 'rt.session_id'))
    .select([
      'rt.token_hash',
      'rt.created_at',
      'rt.expires_at',
      'rt.rotated_at',
      'rt.successor_enc',
      's.id as session_id',
      's.user_id',
      's.account_id',
      's.amr',
      's.auth_time',
      's.revoked_at as session_revoked_at',
      's.expires_at as session_expires_at',
    ])
    .where('rt.tenant_id', '=', tenantId)
    .where('rt.token_hash', '=', tokenHash)
    .forUpdate('rt')
    .executeTakeFirst();
}

/** What `tessera_refresh_rotate` decided (migration 0030); the grant's columns only when it rotated. */
export type RefreshRotation =
  | { outcome: 'rotated'; session_id: string; user_id: string; account_id: string; amr: string[]; auth_time: Date | null; refresh_expires_at: Date }
  | { outcome: 'unknown' | 'session ended' | 'user inactive' | 'expired' | 'spent' };

/**
 * The whole rotation in one statement, outside any unit of work (`Database.callAppFunction`): the token locked,
 * its session and user checked, and, when it is live and unspent, marked rotated with its sealed successor, the
 * successor inserted and the session touched. A spent token is only reported (`spent`): the caller decides it
 * under the lock in a unit of work (grace window or reuse detection).
 */
export async function rotateRefreshToken(
  db: Pick<Database, 'callAppFunction'>,
  tenantId: string,
  r: { hash: Buffer; now: Date; successorHash: Buffer; successorEnc: Buffer },
): Promise<RefreshRotation> {
  const rows = await db.callAppFunction<RefreshRotation>('tessera_refresh_rotate', [tenantId, r.hash, r.now, r.successorHash, r.successorEnc]);
  return rows[0]!;
}

/**
 * Spends a login-phase token id (RFC 7519 §4.1.7): true the first time, false ever after. Atomic: of two
 * concurrent spends of one id, the second waits on the first's primary-key entry and then inserts nothing.
 * Ids that expired are purged here, opportunistically, for the same tenant.
 */
export async function spendTokenId(tx: Tx, tenantId: string, jti: string, expiresAt: Date, now: Date): Promise<boolean> {
  await tx.deleteFrom('used_tokens').where('tenant_id', '=', tenantId).where('expires_at', '<', now).execute();
  const row = await tx
    .insertInto('used_tokens')
    .values({ tenant_id: tenantId, jti, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['tenant_id', 'jti']).doNothing())
    .returning('jti')
    .executeTakeFirst();
  return row !== undefined;
}

// ---- throttling (global table; keys are hashes) ----

export async function readThrottles(tx: Tx, keys: Buffer[]) {
  return tx.selectFrom('login_throttles').selectAll().where('key', 'in', keys).execute();
}

/**
 * Reserves one attempt on every key, in one statement, before the secret is checked: inserts or increments each
 * key's window count and sets the wait that count earns (`schedule[n - 1]` ms after `now`, the lock included),
 * unless the key is blocked, in which case nothing changes for it. The upsert takes each row's lock and re-checks
 * `blocked_until` on the newest row version, so of N parallel attempts only those the policy admits get a number;
 * a blocked key gets null. Rows are taken in the order given (the caller's: the address last), so two
 * reservations never wait on each other's rows in opposite orders. A window older than `windowStart` starts over
 * (count 1, no refusal noted).
 */
export async function reserveAttempts(tx: Tx, keys: readonly { key: Buffer; schedule: readonly number[] }[], now: Date, windowStart: Date): Promise<(number | null)[]> {
  const input = sql.join(keys.map((k, i) => sql`(${i}::int, ${k.key}::bytea, ${[...k.schedule]}::int[])`));
  const restart = sql`t.window_started_at <= ${windowStart}`;
  const next = sql`(case when ${restart} then 1 else t.failures + 1 end)`;
  const schedule = sql`(select i.schedule from input i where i.key = excluded.key)`;
  // An attempt that earns no wait (one of the policy's free attempts) leaves the key unblocked (null), not blocked
  // until its own `now`: `now` is read before the row lock is waited for, so a parallel attempt that read the clock
  // a moment earlier and took the lock later would find `blocked_until > now` and be refused with no wait earned
  // (throttle-policy.ts: the first `free` attempts are answered without any wait).
  const until = (waitMs: RawBuilder<number>) => sql`${now}::timestamptz + nullif(${waitMs}, 0) * interval '1 millisecond'`;
  const result = await sql<{ key: Buffer; failures: number }>`
    with input (ord, key, schedule) as (values ${input})
    insert into login_throttles as t (key, failures, window_started_at, blocked_until)
    select key, 1, ${now}, ${until(sql`schedule[1]`)} from input order by ord
    on conflict (key) do update set
      failures = ${next},
      window_started_at = case when ${restart} then ${now}::timestamptz else t.window_started_at end,
      blocked_until = ${until(sql`(${schedule})[least(${next}, cardinality(${schedule}))]`)},
      first_refused_at = case when ${restart} then null else t.first_refused_at end
    where t.blocked_until is null or t.blocked_until <= ${now}
    returning key, failures`.execute(tx);
  return keys.map((k) => result.rows.find((r) => Buffer.from(r.key).equals(k.key))?.failures ?? null);
}

/**
 * Claims the first refusal of `key`'s window: true for exactly one caller per window (the row lock makes a
 * parallel refusal re-check `first_refused_at` and find it set).
 */
export async function claimFirstRefusal(tx: Tx, key: Buffer, now: Date): Promise<boolean> {
  const rows = await tx.updateTable('login_throttles').set({ first_refused_at: now }).where('key', '=', key).where('first_refused_at', 'is', null).returning('key').execute();
  return rows.length > 0;
}

/**
 * Settles reserved attempts that were not failed guesses, in one statement: a `clear` key's count is forgotten
 * (its row deleted); any other key gets its own attempt back (a per-address count keeps only failures), and
 * when its count falls back to the `free` attempts the wait it had earned is lifted too. The rows are locked in
 * the order given, as reserveAttempts takes them: each step runs only after the one before it (a one-time filter
 * on the previous step's result), so no settlement waits on a reservation's rows in the opposite order.
 */
export async function settleAttempts(tx: Tx, keys: readonly { key: Buffer; clear: boolean; free: number }[]): Promise<void> {
  if (keys.length === 0) return;
  const steps = keys.map((k, i) => {
    const after = i === 0 ? sql`` : sql` and (select count(*) from ${sql.raw(`s${i - 1}`)}) >= 0`;
    const change = k.clear
      ? sql`delete from login_throttles where key = ${k.key}${after} returning 1`
      : sql`update login_throttles set failures = greatest(failures - 1, 0), blocked_until = case when failures - 1 <= ${k.free} then null else blocked_until end where key = ${k.key}${after} returning 1`;
    return sql`${sql.raw(`s${i}`)} as (${change})`;
  });
  await sql`with ${sql.join(steps)} select (select count(*) from ${sql.raw(`s${keys.length - 1}`)})`.execute(tx);
}

/** Rewrites a counter row unchanged: a committed write of the same cost as a failure's audit event. */
export async function rewriteThrottle(tx: Tx, key: Buffer): Promise<void> {
  await tx.updateTable('login_throttles').set({ failures: sql<number>`failures` }).where('key', '=', key).execute();
}

/** The function's columns: the session's, then the principal projection's (migration 0011). */
export interface SessionStateRow extends PrincipalRow {
  tenant_id: string;
  session_id: string;
  account_id: string;
  revoked: boolean;
  expires_at: Date;
  authz_epoch: number | string;
}

/**
 * The per-request read (DESIGN §3 step 2) for many sessions at once: liveness, the user's principal and the
 * account's authorization epoch, in one statement (the SECURITY DEFINER function of the migrations).
 */
export async function readSessionStates(tx: Tx, tenantIds: readonly string[], sessionIds: readonly string[]): Promise<SessionStateRow[]> {
  const result = await sql<SessionStateRow>`select * from tessera_session_states(${tenantIds}::uuid[], ${sessionIds}::uuid[])`.execute(tx);
  return result.rows;
}

/**
 * The same read as one statement on the application role's own connections (PostgreSQL, `Database.appReads`):
 * one round trip per batch, prepared once per connection, the function's plan kept by PL/pgSQL (migration 0027).
 */
export async function readSessionStatesOnce(reads: AppReads, tenantIds: readonly string[], sessionIds: readonly string[]): Promise<SessionStateRow[]> {
  return reads.query<SessionStateRow>('tessera_session_states', 'select * from tessera_session_states($1::uuid[], $2::uuid[])', [tenantIds, sessionIds]);
}
