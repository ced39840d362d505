import type { Logger } from './logger.js';

/** Typed listeners for our own emitters: `on` returns its unsubscribe function. */
export interface Listeners<Events extends { [E in keyof Events]: (...args: never[]) => void }> {
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void;
  /** Calls every listener of `event`; one that throws is logged and the others still run. */
  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void;
}

export function createListeners<Events extends { [E in keyof Events]: (...args: never[]) => void }>(
  logger?: Logger,
): Listeners<Events> {
  const table = new Map<keyof Events, Set<Events[keyof Events]>>();
  return {
    on(event, listener) {
      const set = table.get(event) ?? new Set();
      table.set(event, set);
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    emit(event, ...args) {
      for (const listener of table.get(event) ?? []) {
        try {
          (listener as (...a: typeof args) => void)(...args);
        } catch (err) {
          logger?.error({ err, event }, 'listener failed');
        }
      }
    },
  };
}
