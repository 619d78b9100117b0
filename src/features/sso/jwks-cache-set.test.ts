import { describe, expect, it } from 'vitest';
import { createJwksCacheSet } from './id-token.js';

/** A stand-in for a JWKS cache and its HTTP agent: which ones are still open. */
function opener(log: string[]) {
  let n = 0;
  return (name: string) => () => {
    const value = `${name}#${++n}`;
    log.push(`open ${value}`);
    return {
      value,
      close: () => {
        log.push(`close ${value}`);
        return Promise.resolve();
      },
    };
  };
}

describe('the JWKS caches of many connections', () => {
  it('reuses the cache while the connection keeps its settings', () => {
    const log: string[] = [];
    const open = opener(log);
    const set = createJwksCacheSet<string>(10);
    expect(set.get('c1', 'uri-a|', open('c1'))).toBe('c1#1');
    expect(set.get('c1', 'uri-a|', open('c1'))).toBe('c1#1');
    expect(log).toEqual(['open c1#1']);
  });

  it('a changed jwks_uri or CA bundle gets a new cache and closes the old one', () => {
    const log: string[] = [];
    const open = opener(log);
    const set = createJwksCacheSet<string>(10);
    set.get('c1', 'uri-a|', open('c1'));
    expect(set.get('c1', 'uri-b|', open('c1'))).toBe('c1#2');
    expect(set.get('c1', 'uri-b|ca', open('c1'))).toBe('c1#3');
    expect(log).toEqual(['open c1#1', 'close c1#1', 'open c1#2', 'close c1#2', 'open c1#3']);
    expect(set.size).toBe(1);
  });

  it('beyond its limit drops and closes the least recently used connection, never the one just used', () => {
    const log: string[] = [];
    const open = opener(log);
    const set = createJwksCacheSet<string>(2);
    set.get('c1', 's', open('c1'));
    set.get('c2', 's', open('c2'));
    set.get('c1', 's', open('c1')); // c1 used again: c2 is now the oldest
    set.get('c3', 's', open('c3'));
    expect(set.size).toBe(2);
    expect(log).toEqual(['open c1#1', 'open c2#2', 'open c3#3', 'close c2#2']);
    expect(set.get('c1', 's', open('c1'))).toBe('c1#1');
  });
});
