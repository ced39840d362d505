/**
 * When a node counts as live, expired or purgeable: a pure function of the liveness records read from
 * Redis, the reader's clock and its previous view. No I/O and no timers, so it is tested on plain data
 * with a fake clock; the watcher in `registry.ts` feeds it and turns its verdicts into events.
 *
 * A node's record is its member in a liveness index scored by when it expires (ms since epoch) and,
 * while the node takes connections, a hash describing it (`listed`). A node whose expiry passed is, for
 * a while, either dead or cut off from Redis (a partition, a frozen process): the two look alike. So it
 * is expired at once (presence entries go, its clients' recovery window starts) but purged (inbox and
 * routing entries removed) only `retentionMs` later, so a node that comes back within that time reads
 * everything it missed.
 */

/** One node's record as read from the index. */
export interface LivenessEntry {
  readonly nodeId: string;
  /** When the record expires unless written again (ms since epoch). */
  readonly expiresAt: number;
  /** The record describes the node (it takes connections); false while it starts or drains. */
  readonly listed: boolean;
}

export interface LivenessSettings {
  /** How often nodes write their record. */
  readonly heartbeatIntervalMs: number;
  /** How long an expired node is kept (its inbox read again if it comes back) before it is purged. */
  readonly retentionMs: number;
}

/** What a reader concluded at its last read: the input of the next one. */
export interface LivenessView {
  /** When that read happened; 0 before the first. */
  readonly readAt: number;
  /** No node is judged expired before this time (the reader was back from its own outage). */
  readonly judgeFrom: number;
  /** Nodes counted as live (starting and draining ones included). */
  readonly live: ReadonlySet<string>;
  /** Live nodes that take connections: what frontends hand out. */
  readonly listed: ReadonlySet<string>;
  /** Nodes whose expiry was told and that are not yet purged nor back. */
  readonly expired: ReadonlySet<string>;
}

/** What one read changed. Lists are in the order of the entries given. */
export interface LivenessVerdict {
  readonly view: LivenessView;
  /** Nodes that became listed. */
  readonly joined: readonly string[];
  /** Nodes no longer listed: a clean leave (drain started, record removed) or an expiry. */
  readonly left: readonly string[];
  /** Nodes whose expiry this read is the first to tell. */
  readonly expired: readonly string[];
  /** Nodes expired at or before this time may be claimed for purging; undefined: purge nothing now. */
  readonly purgeBefore: number | undefined;
}

/** The view of a reader that has read nothing yet. */
export const NO_LIVENESS_VIEW: LivenessView = Object.freeze({
  readAt: 0,
  judgeFrom: 0,
  live: new Set<string>(),
  listed: new Set<string>(),
  expired: new Set<string>(),
});

/**
 * Judges one read. A reader back from its own outage (its previous read more than an interval and a
 * half ago: Redis frozen, restarted, or this process cut off) judges no node for one heartbeat interval:
 * every other node was cut off as long and gets that interval to write its record again. Meanwhile a
 * node it counted as live stays live, and nothing is told expired or purged.
 */
export function judgeLiveness(
  previous: LivenessView,
  entries: readonly LivenessEntry[],
  now: number,
  settings: LivenessSettings,
): LivenessVerdict {
  const back = previous.readAt > 0 && now - previous.readAt > settings.heartbeatIntervalMs * 1.5;
  const judgeFrom = back ? now + settings.heartbeatIntervalMs : previous.judgeFrom;
  const judging = now >= judgeFrom;
  const live = new Set<string>();
  const listed = new Set<string>();
  const expired = new Set<string>();
  const newlyExpired: string[] = [];
  for (const entry of entries) {
    const { nodeId } = entry;
    const current = entry.expiresAt > now || (!judging && previous.live.has(nodeId));
    if (current) {
      live.add(nodeId);
      if (entry.listed) listed.add(nodeId);
    } else if (previous.expired.has(nodeId)) {
      expired.add(nodeId);
    } else if (judging) {
      expired.add(nodeId);
      newlyExpired.push(nodeId);
    }
  }
  const order = entries.map((e) => e.nodeId);
  const gone = [...previous.listed].filter((id) => !listed.has(id));
  return {
    view: { readAt: now, judgeFrom, live, listed, expired },
    joined: order.filter((id) => listed.has(id) && !previous.listed.has(id)),
    // A node purged (gone from the index) since it was listed comes last: it has no entry to order by.
    left: [...order.filter((id) => gone.includes(id)), ...gone.filter((id) => !order.includes(id))],
    expired: newlyExpired,
    purgeBefore: judging ? now - settings.retentionMs : undefined,
  };
}
