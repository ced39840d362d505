import type { Logger, OccupancyChange } from '@iocluster/shared';

/** A `room:occupied` / `room:vacated` handler: the room, and the change (why, when, decided where). */
export type OccupancyHook = (room: string, change: OccupancyChange) => unknown;

/** The occupancy side of an app-node: its handlers, and running the changes of an ingress job. */
export interface AppOccupancy {
  /** Adds a handler of rooms becoming occupied or vacated; returns its remover. */
  on(type: OccupancyChange['type'], hook: OccupancyHook): () => void;
  /**
   * Runs the changes of one ingress job, in order: every handler of each change's type (a handler that
   * throws is logged, the others still run), then `after` with all of them (webhooks).
   */
  run(changes: readonly OccupancyChange[], context: { jobId: string | undefined }): Promise<void>;
}

export function createAppOccupancy(
  logger: Logger,
  after?: (changes: readonly OccupancyChange[]) => Promise<void>,
): AppOccupancy {
  const hooks = { occupied: new Set<OccupancyHook>(), vacated: new Set<OccupancyHook>() };
  return {
    on(type, hook) {
      hooks[type].add(hook);
      return () => {
        hooks[type].delete(hook);
      };
    },
    async run(changes, context) {
      for (const change of changes) {
        for (const hook of hooks[change.type]) {
          try {
            await hook(change.room, change);
          } catch (err) {
            logger.warn(
              { err, jobId: context.jobId, room: change.room, type: change.type },
              `room:${change.type} handler failed`,
            );
          }
        }
      }
      await after?.(changes);
    },
  };
}
