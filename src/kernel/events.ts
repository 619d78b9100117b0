/**
 * An in-process event list: a feature emits facts about its own data inside the unit of work that changed
 * them, and other features subscribe at composition (app.ts). Subscribers run in order, awaited, with the
 * emitter's unit of work `U` (a transaction): what they write commits or rolls back with the change, and an
 * error from one aborts the change. Not a queue: nothing is kept once `emit` returns.
 */
export type Subscriber<E, U> = (unit: U, event: E) => Promise<void> | void;

export interface EventSource<E, U> {
  /** Adds a subscriber for every later event. */
  subscribe(subscriber: Subscriber<E, U>): void;
}

export interface EventBus<E, U> extends EventSource<E, U> {
  emit(unit: U, event: E): Promise<void>;
}

export function createEventBus<E, U>(): EventBus<E, U> {
  const subscribers: Subscriber<E, U>[] = [];
  return {
    subscribe(subscriber) {
      subscribers.push(subscriber);
    },
    async emit(unit, event) {
      for (const subscriber of subscribers) await subscriber(unit, event);
    },
  };
}
