import { setTimeout as delay } from 'node:timers/promises';
import { DevkitError } from './errors.js';

/** What one look at a topology found: done with a value, or not yet and why (for the timeout message). */
export type Probe<T> =
  | { readonly done: true; readonly value: T }
  | { readonly done: false; readonly why: string };

/**
 * Calls `probe` every `intervalMs` until it reports done, and resolves with its value. A probe that
 * throws counts as not done (a node restarting refuses connections). After `timeoutMs` rejects with a
 * {@link DevkitError} `TOPOLOGY_TIMEOUT` naming `what` and the last reason.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<Probe<T>>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let why = 'not checked yet';
  for (;;) {
    try {
      const result = await probe();
      if (result.done) return result.value;
      why = result.why;
    } catch (err) {
      why = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) {
      throw new DevkitError('TOPOLOGY_TIMEOUT', `${what}: not reached within ${timeoutMs} ms (last: ${why})`);
    }
    await delay(intervalMs);
  }
}
