import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalParts, type ChainedEvent, eventHash, formatMicros, parseMicros } from './audit-chain.js';

describe('audit chain rules', () => {
  it('canonical JSON sorts keys at every level and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'é' }], c: true } })).toBe('{"a":{"c":true,"d":[1,{"y":"é","z":null}]},"b":1}');
    expect(canonicalJson({ B: 1, a: 2, _: 3 })).toBe('{"B":1,"_":3,"a":2}');
  });

  it('the parts the database completes join to exactly the canonical form eventHash() hashes', () => {
    const events: Omit<ChainedEvent, 'hash'>[] = [
      {
        tenantId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
        seq: 12,
        occurredAt: '2026-03-01T10:00:00.000001Z',
        actor: { type: 'user', id: 'u1', email: 'ÅSA@example.com', ip: '::1', userAgent: 'agent "quoted" \\ back\nslash' },
        action: 'user.updated',
        target: { type: 'user', id: 'u2' },
        outcome: 'failure',
        errorCode: 'invalid_request',
        details: { z: [1, 2, { b: 'x', a: '✓' }], a: null },
        prevHash: 'f'.repeat(64),
      },
      {
        tenantId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c',
        seq: 1,
        occurredAt: '2026-03-01T10:00:00.000000Z',
        actor: { type: 'system', id: 'bootstrap', email: null, ip: null, userAgent: null },
        action: 'tenant.created',
        target: null,
        outcome: 'success',
        errorCode: null,
        details: {},
        prevHash: '0'.repeat(64),
      },
    ];
    for (const e of events) {
      const p = canonicalParts(e);
      const joined = `${p.prefix}${e.occurredAt}${p.beforePrevHash}${e.prevHash}${p.beforeSeq}${e.seq}${p.suffix}`;
      expect(joined).toBe(canonicalJson({ ...e }));
      expect(eventHash(e)).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('timestamps keep microseconds both ways', () => {
    const micros = Date.parse('2026-03-01T10:00:00.123Z') * 1000 + 456;
    expect(formatMicros(micros)).toBe('2026-03-01T10:00:00.123456Z');
    expect(parseMicros('2026-03-01T10:00:00.123456Z')).toBe(micros);
    expect(parseMicros('2026-03-01T10:00:00Z')).toBe(Date.parse('2026-03-01T10:00:00Z') * 1000);
  });
});
