import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with the OWASP Password Storage Cheat Sheet parameters (m = 19 MiB, t = 2, p = 1).
 * Hashing runs on libuv's thread pool; at most `concurrency` hashes run at once so that a login flood
 * cannot occupy every pool thread and starve the rest of the server (DESIGN §3 step 4).
 */
// @node-rs/argon2's Algorithm is an ambient const enum; 2 is Argon2id.
export const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Verifies against a fixed dummy hash, so an unknown account costs the same time as a known one. */
  verifyDummy(password: string): Promise<false>;
  /** Hashes running now and hashes waiting for a turn (the operator's metrics). */
  load(): { readonly running: number; readonly waiting: number };
}

class Semaphore {
  #free: number;
  readonly #size: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
    this.#size = size;
  }
  get running(): number {
    return this.#size - this.#free;
  }
  get waiting(): number {
    return this.#waiting.length;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/**
 * Below the thread-pool size, so hashing never holds every pool thread, and below the core count, so
 * hashes never hold every core: on 2 cores two concurrent argon2 hashes took authenticated requests down to
 * 0.15 of their rate during a login flood, one at a time kept 0.76 (BENCHMARKS.md, Authentication).
 */
export function defaultHashConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(pool - 2, availableParallelism() - 1));
}

/** The cost of new hashes: argon2id always; only its memory and time parameters may differ from ARGON2_OPTIONS. */
export type Argon2Cost = Pick<typeof ARGON2_OPTIONS, 'algorithm'> & { readonly memoryCost: number; readonly timeCost: number; readonly parallelism: number };

/**
 * `cost` is ARGON2_OPTIONS everywhere the server runs: no configuration or environment variable reaches it. Only a
 * test harness passes another (test/support/app.ts), through `createServices`' `passwordHasher`. A stored hash
 * carries its own parameters, so `verify` checks any of them.
 */
export function createPasswordHasher(concurrency: number = defaultHashConcurrency(), cost: Argon2Cost = ARGON2_OPTIONS): PasswordHasher {
  const gate = new Semaphore(concurrency);
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => gate.run(() => hash(password, cost)),
    verify: (stored, password) => gate.run(() => verify(stored, password).catch(() => false)),
    async verifyDummy(password) {
      dummy ??= hash('tessera-dummy-password', cost);
      const stored = await dummy;
      await gate.run(() => verify(stored, password).catch(() => false));
      return false;
    },
    load: () => ({ running: gate.running, waiting: gate.waiting }),
  };
}
