import type { Logger } from '@iocluster/shared';

/** Bounds the ingress queue: past `maxWaiting` jobs waiting, new client events are refused. */
export interface QueueGuardOptions {
  /** Reads the queue's waiting count (one Redis call). */
  waiting: () => Promise<number>;
  /** Jobs waiting past which the guard reports overload; 0: never. */
  maxWaiting: number;
  /** How often the count is read: the check per event is a field read, never a Redis call. */
  intervalMs: number;
  logger: Logger;
}

/**
 * Watches the ingress queue's depth. A bounded queue cannot hold a client event that was refused, so
 * refusing (OVERLOADED) is safe; what was accepted stays queued and is handled. The bound is approximate
 * by up to `intervalMs` of traffic, which is what keeps the per-event cost at zero Redis calls.
 */
export interface QueueGuard {
  /** True while the last reading was at or past the bound. */
  readonly overloaded: boolean;
  /** The last reading. */
  readonly waiting: number;
  start(): void;
  close(): void;
}

export function createQueueGuard(options: QueueGuardOptions): QueueGuard {
  const logger = options.logger.child({ component: 'io-node:queue-guard' });
  let waiting = 0;
  let overloaded = false;
  let timer: NodeJS.Timeout | undefined;
  let reading = false;

  async function read(): Promise<void> {
    if (reading) return;
    reading = true;
    try {
      waiting = await options.waiting();
      const next = waiting >= options.maxWaiting;
      if (next !== overloaded) {
        if (next)
          logger.warn({ waiting, maxWaiting: options.maxWaiting }, 'ingress queue full; refusing events');
        else logger.info({ waiting, maxWaiting: options.maxWaiting }, 'ingress queue below its bound again');
      }
      overloaded = next;
    } catch (err) {
      // Redis trouble: keep the last verdict; the producer retries what it accepted.
      logger.debug({ err }, 'could not read the ingress queue depth');
    } finally {
      reading = false;
    }
  }

  return {
    get overloaded() {
      return overloaded;
    },
    get waiting() {
      return waiting;
    },
    start() {
      if (options.maxWaiting <= 0 || timer) return;
      timer = setInterval(() => void read(), options.intervalMs);
      timer.unref();
      void read();
    },
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
