import { sql } from 'kysely';
import type { Tx } from './database.js';

/**
 * Transaction-scoped advisory locks (PostgreSQL manual §9.28.10): one job or one first-start setup at a time
 * across every instance on the database; released when the unit of work ends.
 */

/** Waits for the lock. */
export async function advisoryXactLock(tx: Tx, key: number): Promise<void> {
  await sql`select pg_advisory_xact_lock(${key})`.execute(tx);
}

/** Takes the lock if it is free; false when another instance holds it. */
export async function tryAdvisoryXactLock(tx: Tx, key: number): Promise<boolean> {
  const result = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${key}) as locked`.execute(tx);
  return result.rows[0]?.locked === true;
}
