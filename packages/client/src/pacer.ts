/** Share of the io-node's rate and burst the client uses: a margin for the network bunching its sends. */
const RATE_SHARE = 0.9;
const BURST_SHARE = 0.5;

/**
 * The client's copy of its io-node's per-client rate limit, as the node announces it (`$limits`,
 * `{ eventRate, eventBurst }`: a token bucket of `eventBurst` refilled at `eventRate` per second, full
 * again on every connection). An emit waits for a token here instead of being refused `RATE_LIMITED`
 * there; what a reconnect sends from the queue, above all. Until a node announces limits nothing waits.
 */
export class Pacer {
  private rate = 0;
  private burst = 0;
  private tokens = 0;
  private last = 0;

  /** Takes the limits a node announced; anything malformed turns pacing off. */
  set(limits: unknown): void {
    const { eventRate, eventBurst } = (limits ?? {}) as { eventRate?: unknown; eventBurst?: unknown };
    const valid = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
    if (!valid(eventRate) || !valid(eventBurst)) {
      this.rate = 0;
      return;
    }
    this.rate = eventRate * RATE_SHARE;
    this.burst = Math.max(1, Math.floor(eventBurst * BURST_SHARE));
    this.tokens = Math.min(this.tokens, this.burst);
  }

  /** A new connection: the node's bucket is full again. */
  reset(): void {
    this.tokens = this.burst;
    this.last = Date.now();
  }

  /** Takes a token: 0 when one was there, else the ms until the next one (and none was taken). */
  take(): number {
    if (this.rate === 0) return 0;
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}
