/**
 * Events per second over a sliding window of whole seconds (a ring of per-second counts): for the rates
 * nodes put in their registry records (events/s, jobs/s), where a heartbeat's own period — shortened by
 * early heartbeats — would make a noisy window.
 */
export interface RateMeter {
  /** Counts `n` occurrences now. */
  mark(n?: number): void;
  /** Occurrences per second over the last `windowSeconds` full seconds. */
  perSecond(): number;
}

/** Creates a meter; `now` is injectable for tests. */
export function createRateMeter(windowSeconds = 5, now: () => number = Date.now): RateMeter {
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1) {
    throw new TypeError(`createRateMeter(): windowSeconds must be a positive integer, got ${windowSeconds}`);
  }
  // One slot more than the window: the current, still-filling second is not reported.
  const slots = new Array<number>(windowSeconds + 1).fill(0);
  let current = Math.floor(now() / 1000);

  function advance(): void {
    const second = Math.floor(now() / 1000);
    const steps = Math.min(second - current, slots.length);
    for (let i = 1; i <= steps; i++) slots[(current + i) % slots.length] = 0;
    if (second > current) current = second;
  }

  return {
    mark(n = 1) {
      advance();
      slots[current % slots.length]! += n;
    },
    perSecond() {
      advance();
      let total = 0;
      for (let i = 1; i <= windowSeconds; i++) total += slots[(current - i + slots.length) % slots.length]!;
      return Math.round((total / windowSeconds) * 100) / 100;
    },
  };
}
