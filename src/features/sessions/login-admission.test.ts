import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { call } from '../../../test/support/sessions-http.js';
import { type AdmissionTimers, createLoginAdmission, createRequestDemand } from './login-admission.js';
import { accountKey, ipKey } from './throttle-policy.js';

/** Time that moves only when told to, and the timers due by then. */
function manualTimers() {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  const api: AdmissionTimers & { advance(ms: number): Promise<void>; pending(): number } = {
    now: () => now,
    later: (fn, ms) => void timers.push({ at: now + ms, fn }),
    async advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.fn();
      await settle();
    },
    pending: () => timers.length,
  };
  return api;
}

const settle = () => new Promise<void>((r) => setImmediate(r));

/** A hash that finishes when the test says so. */
function pendingHash() {
  let finish!: () => void;
  let started = false;
  const done = new Promise<boolean>((resolve) => (finish = () => resolve(true)));
  return {
    work: () => {
      started = true;
      return done;
    },
    get started() {
      return started;
    },
    finish: () => finish(),
  };
}

describe('login admission policy', () => {
  const base = { share: 0.25, queueLimit: 4, perAddressLimit: 2, concurrency: 1, initialCostMs: 10 };

  it('with no authenticated traffic waiting, hashes run back to back', async () => {
    const timers = manualTimers();
    const admission = createLoginAdmission({ ...base, demand: () => false, timers });
    const [a, b] = [pendingHash(), pendingHash()];
    const ta = admission.enter('192.0.2.1');
    const tb = admission.enter('192.0.2.2');
    if (!ta.admitted || !tb.admitted) throw new Error('refused');
    const ra = ta.ticket.hash(a.work);
    const rb = tb.ticket.hash(b.work);
    await settle();
    expect([a.started, b.started]).toEqual([true, false]);
    await timers.advance(10);
    a.finish();
    await ra;
    await settle();
    // The next one starts at once: no spacing, no timer.
    expect(b.started).toBe(true);
    expect(timers.pending()).toBe(0);
    b.finish();
    await rb;
  });

  it('while authenticated requests wait, hashes start no closer than cost / share (the rest of the core is theirs)', async () => {
    const timers = manualTimers();
    let waiting = true;
    const admission = createLoginAdmission({ ...base, demand: () => waiting, timers });
    const hashes = [pendingHash(), pendingHash(), pendingHash()];
    const tickets = hashes.map((_, i) => admission.enter(`192.0.2.${i + 1}`));
    const runs = tickets.map((t, i) => (t.admitted ? t.ticket.hash(hashes[i]!.work) : Promise.reject(new Error('refused'))));
    await settle();
    expect(hashes.map((h) => h.started)).toEqual([true, false, false]);
    // The first login took 8 ms of wall time from its hash's start to its end: the cost estimate becomes
    // 8 ms, the spacing 8 / 0.25 = 32 ms.
    await timers.advance(8);
    hashes[0]!.finish();
    await runs[0];
    if (tickets[0]!.admitted) tickets[0]!.ticket.leave();
    await settle();
    expect(admission.state().costMs).toBe(8);
    expect(hashes[1]!.started).toBe(false);
    await timers.advance(23); // t = 31: one short of the first start + 32
    expect(hashes[1]!.started).toBe(false);
    await timers.advance(1); // t = 32
    expect(hashes[1]!.started).toBe(true);
    hashes[1]!.finish();
    await runs[1];
    // The traffic stopped: the next hash is not held back once the pending turn comes.
    waiting = false;
    await timers.advance(32);
    expect(hashes[2]!.started).toBe(true);
    hashes[2]!.finish();
    await runs[2];
  });

  it('the cost estimate (a login from its hash to its end) only goes down: a login slowed by contention never loosens the budget', async () => {
    const timers = manualTimers();
    const admission = createLoginAdmission({ ...base, demand: () => true, timers });
    for (const ms of [12, 30, 9, 40]) {
      const entry = admission.enter('192.0.2.1');
      if (!entry.admitted) throw new Error('refused');
      const h = pendingHash();
      const run = entry.ticket.hash(h.work);
      await timers.advance(200);
      await timers.advance(ms);
      h.finish();
      await run;
      entry.ticket.leave();
    }
    expect(admission.state().costMs).toBe(9);
    expect(admission.state().spacingMs).toBe(36);
  });

  it("the cost estimate counts a login's work before its hash (its throttle unit of work runs on the same core), not its wait in the line", async () => {
    const timers = manualTimers();
    const admission = createLoginAdmission({ ...base, demand: () => true, timers });
    const first = admission.enter('192.0.2.1');
    const second = admission.enter('192.0.2.2');
    if (!first.admitted || !second.admitted) throw new Error('refused');
    // Both logins spend 3 ms before asking for their hash; the second then waits in the line behind the first.
    await timers.advance(3);
    const h1 = pendingHash();
    const h2 = pendingHash();
    const r1 = first.ticket.hash(h1.work);
    const r2 = second.ticket.hash(h2.work);
    await settle();
    expect([h1.started, h2.started]).toEqual([true, false]);
    await timers.advance(8);
    h1.finish();
    await r1;
    first.ticket.leave();
    // 3 ms before the hash + 8 ms from its start to the login's end.
    expect(admission.state().costMs).toBe(11);
    await timers.advance(200);
    expect(h2.started).toBe(true);
    await timers.advance(11);
    h2.finish();
    await r2;
    second.ticket.leave();
    // The second login's 200 ms in the line is not its cost: 3 + 11 = 14 > 11, so the estimate stays.
    expect(admission.state().costMs).toBe(11);
  });

  it("the cost is never below the process's CPU per login, measured over runs of 8 logins while no authenticated request waits", async () => {
    let cpu = 0;
    let waiting = false;
    const timers = { ...manualTimers(), cpuMs: () => cpu };
    const admission = createLoginAdmission({ ...base, demand: () => waiting, timers });
    /** One login: `wallMs` from its hash's start to its end, `cpuMs` of the process's CPU meanwhile. */
    const login = async (wallMs: number, cpuMs: number) => {
      const entry = admission.enter('192.0.2.1');
      if (!entry.admitted) throw new Error('refused');
      const h = pendingHash();
      const run = entry.ticket.hash(h.work);
      await settle();
      // While traffic waits, the hash waits for its turn (spacing) first.
      while (!h.started) await timers.advance(1);
      await timers.advance(wallMs);
      cpu += cpuMs;
      h.finish();
      await run;
      entry.ticket.leave();
    };
    // A window with authenticated traffic in it (its CPU is not the logins' alone) gives no sample.
    waiting = true;
    for (let i = 0; i < 9; i++) await login(12, 50);
    expect(admission.state()).toMatchObject({ wallCostMs: 12, cpuCostMs: undefined, costMs: 12 });
    // Logins of 12 ms of wall time that cost the process 20 ms of CPU each (work outside their span).
    waiting = false;
    for (let i = 0; i < 9; i++) await login(12, 20);
    expect(admission.state()).toMatchObject({ wallCostMs: 12, cpuCostMs: 20, costMs: 20, spacingMs: 80 });
    // A cleaner window lowers the estimate; a busier one never raises it.
    for (let i = 0; i < 9; i++) await login(12, 16);
    expect(admission.state().cpuCostMs).toBe(16);
    for (let i = 0; i < 8; i++) await login(12, 40);
    expect(admission.state()).toMatchObject({ cpuCostMs: 16, costMs: 16 });
    // The wall-time estimate still counts when it is the larger (a login waiting on its database).
    const slow = createLoginAdmission({ ...base, demand: () => false, timers: { ...manualTimers(), cpuMs: () => cpu } });
    expect(slow.state()).toMatchObject({ wallCostMs: 10, costMs: 10 });
  });

  it('a full line, or an address with its share of it, is refused at once with a wait; leaving frees the slot once', () => {
    const admission = createLoginAdmission({ ...base, demand: () => true, timers: manualTimers() });
    const a1 = admission.enter('192.0.2.1');
    const a2 = admission.enter('192.0.2.1');
    expect(a1.admitted && a2.admitted).toBe(true);
    // A third from the same address: refused, the line is not full.
    expect(admission.enter('192.0.2.1')).toMatchObject({ admitted: false, reason: 'address_full' });
    // IPv6 counts per /64 (throttle-policy.ts ipSubject): two addresses of one /64 share the address's part.
    expect(admission.enter('2001:db8:1:2::1').admitted).toBe(true);
    expect(admission.enter('2001:db8:1:2::ffff').admitted).toBe(true);
    const refused = admission.enter('2001:db8:1:3::1');
    expect(refused).toMatchObject({ admitted: false, reason: 'line_full' });
    // Four logins in line at 10 / 0.25 = 40 ms each: 160 ms, answered as one second at least.
    expect(refused.admitted === false && refused.retryAfterSeconds).toBe(1);
    if (!a1.admitted) throw new Error('refused');
    a1.ticket.leave();
    a1.ticket.leave();
    expect(admission.state().held).toBe(3);
    expect(admission.enter('192.0.2.1').admitted).toBe(true);
    expect(admission.enter('192.0.2.9')).toMatchObject({ admitted: false, reason: 'line_full' });
  });

  it('the wait announced grows with the line', () => {
    const admission = createLoginAdmission({ share: 0.1, queueLimit: 200, perAddressLimit: 200, concurrency: 1, initialCostMs: 10, demand: () => true, timers: manualTimers() });
    for (let i = 0; i < 200; i++) expect(admission.enter('192.0.2.1').admitted).toBe(true);
    // 200 in line, one every 100 ms: 20 s.
    expect(admission.enter('192.0.2.2')).toMatchObject({ admitted: false, retryAfterSeconds: 20 });
  });

  it('refuses a share outside (0, 1]', () => {
    expect(() => createLoginAdmission({ ...base, share: 0, demand: () => true })).toThrow(RangeError);
    expect(() => createLoginAdmission({ ...base, share: 1.5, demand: () => true })).toThrow(RangeError);
  });
});

describe('request demand signal', () => {
  it('is on while an authenticated request arrived within the window, and only for those', () => {
    let now = 0;
    const demand = createRequestDemand({ windowMs: 100, now: () => now });
    expect(demand.waiting()).toBe(false);
    demand.observe({ headers: {} });
    expect(demand.waiting()).toBe(false);
    demand.observe({ headers: { authorization: 'Bearer x' } });
    expect(demand.waiting()).toBe(true);
    now = 99;
    expect(demand.waiting()).toBe(true);
    now = 100;
    expect(demand.waiting()).toBe(false);
    demand.observe({ headers: { authorization: 'Bearer y' } });
    now = 150;
    expect(demand.waiting()).toBe(true);
  });
});

describe.each(engines())('login admission over HTTP [%s]', (engine) => {
  let t: TestApp;
  let hold: { reached: () => void; released: Promise<void> } | undefined;

  beforeAll(async () => {
    // A line of one: of logins sent together, all but the one hashing are refused. X-Forwarded-For is trusted
    // from loopback, so the test names the source address.
    // A verification can be held (`hold`) so that a login keeps its place in the line for as long as the test needs.
    t = await startTestApp(engine, {
      env: { TESSERA_TRUST_PROXY: '127.0.0.1', TESSERA_LOGIN_QUEUE: '1' },
      wrapHasher: (hasher) => ({
        ...hasher,
        verifyDummy: async (password) => {
          const held = hold;
          if (held) {
            hold = undefined;
            held.reached();
            await held.released;
          }
          return hasher.verifyDummy(password);
        },
      }),
    });
  });
  afterAll(() => t?.close());

  const throttleRow = (key: Buffer) =>
    t.database.db.globalWork(async (tx) => (await sql<{ failures: number }>`select failures from login_throttles where key = ${key}`.execute(tx)).rows[0]);

  it('the HTTP server reports every request with an Authorization header to the admission, and only those', async () => {
    const before = t.app.services.sessions.authenticatedArrivals();
    await call(t, 'GET', '/api/v1/me', { token: 'not-a-token' });
    expect(t.app.services.sessions.authenticatedArrivals()).toBe(before + 1);
    await call(t, 'GET', '/healthz');
    await call(t, 'POST', '/auth/login', { body: { email: 'nobody@busy.example.com', password: 'x' }, headers: { 'x-forwarded-for': '198.51.100.78' } });
    expect(t.app.services.sessions.authenticatedArrivals()).toBe(before + 1);
  });

  it('a full line answers 503 sessions.login_busy with Retry-After, and counts nothing', async () => {
    const ip = '198.51.100.77';
    const emails = Array.from({ length: 8 }, (_, i) => `queued-${i}@busy.example.com`);
    const login = (email: string) => call(t, 'POST', '/auth/login', { body: { email, password: 'some password' }, headers: { 'x-forwarded-for': ip } });
    // The first login holds the line's only place, at its hash, until the seven others have their answers: the line
    // is full for each of them whatever the machine's speed.
    let reached!: () => void;
    let release!: () => void;
    const atHash = new Promise<void>((resolve) => (reached = resolve));
    hold = { reached, released: new Promise<void>((resolve) => (release = resolve)) };
    const first = login(emails[0]!);
    await atHash;
    const rest = await Promise.all(emails.slice(1).map(login));
    release();
    const answers = [await first, ...rest];
    const busy = answers.map((a, i) => ({ a, email: emails[i]! })).filter(({ a }) => a.status === 503);
    const checked = answers.filter((a) => a.status === 401);
    expect(checked.length).toBe(1);
    expect(busy.length).toBe(7);
    for (const { a, email } of busy) {
      expect(a.body.error.code).toBe('sessions.login_busy');
      expect(Number(a.response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Refused before the throttle: the email's counter was never touched.
      expect(await throttleRow(accountKey(email))).toBeUndefined();
    }
    // The address's counter holds the checked (wrong) passwords only.
    expect((await throttleRow(ipKey(ip)))?.failures).toBe(checked.length);
    // The line is free again afterwards.
    const later = await call(t, 'POST', '/auth/login', { body: { email: emails[0], password: 'some password' }, headers: { 'x-forwarded-for': ip } });
    expect(later.status).toBe(401);
  });
});
