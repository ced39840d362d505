import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { Pacer } from '../../src/pacer.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** What `count` takes in a row answer: 0 for a token, else the wait. */
const takeMany = (pacer: Pacer, count: number) => Array.from({ length: count }, () => pacer.take());

describe('pacer', () => {
  test('pacer - until a node announces limits nothing waits', () => {
    const pacer = new Pacer();
    pacer.reset();
    expect(takeMany(pacer, 1_000).filter((wait) => wait !== 0)).toEqual([]);
  });

  test('pacer - a fresh connection has half the burst; then one token per 1/(0.9 rate) s', () => {
    const pacer = new Pacer();
    // The node's bucket: 10 events burst, 10 per second. The client keeps a margin: burst 5, 9 per second.
    pacer.set({ eventRate: 10, eventBurst: 10 });
    pacer.reset();
    expect(takeMany(pacer, 6)).toEqual([0, 0, 0, 0, 0, Math.ceil(1_000 / 9)]);
    // A wait takes no token: asking again at once answers the same wait.
    expect(pacer.take()).toBe(112);
    vi.advanceTimersByTime(111);
    expect(pacer.take()).toBe(1);
    vi.advanceTimersByTime(1);
    // 112 ms bring 1.008 tokens: one is taken, the 0.008 left wait 111 ms for the next.
    expect(takeMany(pacer, 2)).toEqual([0, 111]);
  });

  test('pacer - an idle bucket fills to its burst and no further', () => {
    const pacer = new Pacer();
    pacer.set({ eventRate: 100, eventBurst: 8 });
    pacer.reset();
    expect(takeMany(pacer, 4)).toEqual([0, 0, 0, 0]);
    vi.advanceTimersByTime(60_000);
    expect(takeMany(pacer, 5)).toEqual([0, 0, 0, 0, Math.ceil(1_000 / 90)]);
  });

  test('pacer - reset refills the bucket at once (the node starts a new one per connection)', () => {
    const pacer = new Pacer();
    pacer.set({ eventRate: 1, eventBurst: 6 });
    pacer.reset();
    expect(takeMany(pacer, 4)).toEqual([0, 0, 0, Math.ceil(1_000 / 0.9)]);
    pacer.reset();
    expect(takeMany(pacer, 4)).toEqual([0, 0, 0, 1_112]);
  });

  test('pacer - lower limits cap the tokens at the new burst; a burst under 2 still lets one through', () => {
    const pacer = new Pacer();
    pacer.set({ eventRate: 10, eventBurst: 20 });
    pacer.reset();
    pacer.set({ eventRate: 10, eventBurst: 1 });
    expect(takeMany(pacer, 2)).toEqual([0, 112]);
  });

  test.each([
    ['nothing', undefined],
    ['null', null],
    ['a string rate', { eventRate: '10', eventBurst: 10 }],
    ['a zero burst', { eventRate: 10, eventBurst: 0 }],
    ['a negative rate', { eventRate: -1, eventBurst: 10 }],
    ['an infinite rate', { eventRate: Number.POSITIVE_INFINITY, eventBurst: 10 }],
    ['NaN', { eventRate: Number.NaN, eventBurst: 10 }],
  ])('pacer - malformed limits (%s) turn pacing off', (_, limits) => {
    const pacer = new Pacer();
    pacer.set({ eventRate: 1, eventBurst: 2 });
    pacer.reset();
    expect(pacer.take()).toBe(0);
    expect(pacer.take()).toBeGreaterThan(0);
    pacer.set(limits);
    expect(takeMany(pacer, 100).filter((wait) => wait !== 0)).toEqual([]);
  });
});
