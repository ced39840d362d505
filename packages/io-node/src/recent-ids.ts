/**
 * Ids seen lately: to apply an emit marked `once` a single time (a job run again after its app-node died
 * publishes the same emits again within seconds: lock duration + stalled check), and to skip inbox
 * entries a rewound read brings again. Remembering the last `capacity` ids is enough; insertion-ordered
 * Set: the oldest id goes first.
 */
export interface RecentIds {
  /** True the first time `id` is seen (while remembered), false on a repeat. */
  first(id: string): boolean;
  /** True if `id` is remembered, without remembering it. */
  has(id: string): boolean;
}

export function createRecentIds(capacity: number): RecentIds {
  const seen = new Set<string>();
  return {
    first(id) {
      if (seen.has(id)) return false;
      seen.add(id);
      if (seen.size > capacity) seen.delete(seen.values().next().value as string);
      return true;
    },
    has: (id) => seen.has(id),
  };
}
