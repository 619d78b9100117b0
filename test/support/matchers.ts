import { expect } from 'vitest';

/**
 * vitest types its asymmetric matchers `any`, so that they fit any field of an expected object; an `any` inside an
 * object literal is what type-aware linting refuses. These are the same matchers, typed as what they are: a value
 * only `expect` reads.
 */
export const match = {
  anyString: (): unknown => expect.any(String),
  stringContaining: (expected: string): unknown => expect.stringContaining(expected),
  stringMatching: (expected: RegExp): unknown => expect.stringMatching(expected),
};
