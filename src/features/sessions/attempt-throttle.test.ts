import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { FixedClock } from '../../kernel/clock.js';
import { createAttemptThrottle, type ThrottledKey } from './attempt-throttle.js';
import { ACCOUNT_POLICY, accountKey } from './throttle-policy.js';

// throttle-policy.ts: the first `free` attempts of a window are answered without any wait. Each reservation reads the
// clock before it waits for the key's row lock, so parallel attempts reach the row in any order of their readings.
describe.each(engines())('attempt throttle [%s]', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(engine);
  });
  afterAll(() => t.drop());

  it('free attempts are admitted whatever order their clock readings reach the row in; the first earned wait still refuses', async () => {
    const start = Date.parse('2026-03-01T00:00:00.000Z');
    const clock = new FixedClock(start);
    const throttle = createAttemptThrottle({ db: t.db, clock });
    const keys: ThrottledKey[] = [{ key: accountKey('order@example.com'), policy: ACCOUNT_POLICY, onSuccess: 'clear' }];
    const at = (ms: number) => {
      clock.set(start + ms);
      return throttle.reserve(keys);
    };
    // The attempt that read the clock at +5 ms takes the row first; the one that read it at +0 ms comes after it.
    expect(await at(5)).toEqual({ admitted: true, locksOnFailure: false });
    expect(await at(0)).toEqual({ admitted: true, locksOnFailure: false });
    expect(await at(3)).toEqual({ admitted: true, locksOnFailure: false });
    // The 4th attempt is past the free ones: admitted, and it earns a wait of 1 s that refuses the next one.
    expect(ACCOUNT_POLICY.free).toBe(3);
    expect(await at(6)).toEqual({ admitted: true, locksOnFailure: false });
    expect(await at(7)).toMatchObject({ admitted: false, retryAfterSeconds: 1 });
    expect(await at(1006)).toEqual({ admitted: true, locksOnFailure: false });
  });
});
