import { availableParallelism } from 'node:os';
import { defaultHashConcurrency } from '../../crypto/password.js';

/**
 * How many password verifications a login may run at once (DESIGN §3 step 4). The hasher already stays
 * below the thread-pool size; on a machine with few cores that is not enough: two argon2 hashes on a
 * 2-core machine take both cores from the event loop (measured in BENCHMARKS.md: authenticated requests
 * fell to 0.15 of their rate during a login flood, and stayed at 0.76 with one hash at a time). So logins
 * also leave one core free.
 */
export function loginHashConcurrency(): number {
  return Math.max(1, Math.min(defaultHashConcurrency(), availableParallelism() - 1));
}

/** A counting semaphore: at most `size` tasks run at once, the rest wait in order. */
export function createGate(size: number) {
  let free = size;
  const waiting: (() => void)[] = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
