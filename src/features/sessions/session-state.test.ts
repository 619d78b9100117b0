import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { loginAsAdmin, loginAsPlainUser, type LoggedIn } from '../../../test/support/login.js';
import { type AccessClaims, jwtPart } from '../../../test/support/sessions-http.js';
import type { Database } from '../../db/database.js';
import { batchedStateSource, memoryStateSource } from './session-state.js';

// DESIGN §3 step 2: one read per request returns session-live, user-active and the account epoch; on
// PostgreSQL the reads of concurrent requests are coalesced, each still starting after it was asked for.
describe.each(engines())('session state reads [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  const users: LoggedIn[] = [];
  const sidOf = (who: LoggedIn) => jwtPart<AccessClaims>(who.accessToken, 1).sid;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
    for (let i = 0; i < 4; i++) users.push(await loginAsPlainUser(t, admin));
  });
  afterAll(() => t.close());

  /** The app's database, counting the units of work the state source opens. */
  function counting(db: Database) {
    const counter = { units: 0 };
    const wrapped: Database = { ...db, globalWork: (fn) => (counter.units++, db.globalWork(fn)) };
    return { db: wrapped, counter };
  }

  it('answers many concurrent reads with a few batched queries, each with its own session’s facts', async () => {
    const { db, counter } = counting(t.app.db);
    const source = batchedStateSource(db, { maxInFlight: 1 });
    await t.app.db.tenantWork(admin.tenantId, (tx) => t.app.services.sessions.revokeAllSessionsOfUser(tx, admin.tenantId, users[0]!.userId, 'test'));
    const asks = Array.from({ length: 40 }, (_, i) => users[i % users.length]!);
    const states = await Promise.all(asks.map((u) => source.read(admin.tenantId, sidOf(u))));
    states.forEach((s, i) => {
      expect(s).toMatchObject({ tenantId: admin.tenantId, userId: asks[i]!.userId, accountId: admin.accountId, userActive: true, revoked: asks[i] === users[0] });
      expect(typeof s!.authzEpoch).toBe('number');
    });
    // The first read starts at once; the 39 that arrive while it runs share the next query.
    expect(counter.units).toBe(2);
  });

  it('reads nothing for an unknown session, or a session id under another tenant', async () => {
    const source = batchedStateSource(t.app.db);
    const other = await loginAsAdmin(t, { tenantName: 'Other' });
    expect(await source.read(admin.tenantId, crypto.randomUUID())).toBeUndefined();
    expect(await source.read(admin.tenantId, sidOf(other))).toBeUndefined();
    expect(await source.read(other.tenantId, sidOf(other))).toMatchObject({ tenantId: other.tenantId, userId: other.userId });
  });

  it('the in-memory source (embedded) reads once, then serves from memory until a revocation forgets it', async () => {
    const { db, counter } = counting(t.app.db);
    const source = memoryStateSource(db);
    const who = users[1]!;
    await source.read(admin.tenantId, sidOf(who));
    await source.read(admin.tenantId, sidOf(who));
    expect(counter.units).toBe(1);
    source.forgetUser(admin.tenantId, who.userId);
    await source.read(admin.tenantId, sidOf(who));
    expect(counter.units).toBe(2);
  });
});
