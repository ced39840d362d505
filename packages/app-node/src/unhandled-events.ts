import type { Logger } from '@iocluster/shared';
import type { UnhandledEventSource } from './job-processor.js';

/** Options of {@link createUnhandledEvents}. */
export interface UnhandledEventsOptions {
  logger: Logger;
  /** Counts each one (the `iocluster_app_unhandled_events_total` counter). */
  count(): void;
  /** At most one warning per this long; the next one says how many went unreported. @defaultValue 10000 */
  warnEveryMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

/**
 * What an app-node does with a client event no handler is registered for: the client's ack (if any) gets
 * NO_HANDLER elsewhere; here it is counted, and warned of at most once per `warnEveryMs` (a client
 * sending a misspelt event in a loop must not flood the log), the warning naming the event, its client
 * and how many more there were since the last one.
 */
export function createUnhandledEvents(
  options: UnhandledEventsOptions,
): (event: string, from: UnhandledEventSource) => void {
  const warnEveryMs = options.warnEveryMs ?? 10_000;
  const now = options.now ?? Date.now;
  let lastWarnAt: number | undefined;
  let unreported = 0;
  return (event, from) => {
    options.count();
    const at = now();
    if (lastWarnAt !== undefined && at - lastWarnAt < warnEveryMs) {
      unreported++;
      return;
    }
    options.logger.warn(
      { event, clientId: from.clientId, ioNodeId: from.ioNodeId, acked: from.acked, unreported },
      `no handler for event "${event}": dropped${from.acked ? ' (its ack got NO_HANDLER)' : ''}; register one with app.on("${event}", ...)`,
    );
    lastWarnAt = at;
    unreported = 0;
  };
}
