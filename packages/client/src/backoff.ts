/**
 * Wait before attempt `attempt` (1-based) of a connection cycle. The first one waits a random share of
 * `minMs`, so thousands of clients of a node that just died do not reach the frontend in the same
 * millisecond; later ones double from `minMs` up to `maxMs`, with "equal jitter" (half fixed, half
 * random) so they stay spread out and never drop to zero.
 */
export function retryDelayMs(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  if (attempt <= 1) return Math.round(random() * minMs);
  const ceiling = Math.min(maxMs, minMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
