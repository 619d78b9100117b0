/** Time comes from a Clock so that expiry is tested exactly (DESIGN §6 rule 4). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that moves only when told to; for tests and simulations. */
export class FixedClock implements Clock {
  #ms: number;
  constructor(start: Date | string | number = '2026-01-01T00:00:00.000Z') {
    this.#ms = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
  set(to: Date | string | number): void {
    this.#ms = new Date(to).getTime();
  }
}

/**
 * A test clock that runs with real time from where it is set (`set` and `advance` move it, then it keeps running):
 * for suites where a real peer (a browser, an OpenID Provider) dates things by the real clock while the server
 * must agree with it, however long the suite runs.
 */
export class RunningClock extends FixedClock {
  #offsetMs = 0;
  override now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }
  override advance(ms: number): void {
    this.#offsetMs += ms;
  }
  override set(to: Date | string | number): void {
    this.#offsetMs = new Date(to).getTime() - Date.now();
  }
}
