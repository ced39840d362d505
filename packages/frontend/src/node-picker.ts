import type { BalanceStrategy, IoNodeRecord } from '@iocluster/shared';

/**
 * Chooses an io-node for a new client. Registry counts are only as fresh as the node's last heartbeat,
 * so the picker also counts its own picks: a pick is added to the node's load until a record with a newer
 * `lastSeen` (whose count then includes the clients that did connect) replaces the one it was made
 * against. That way a burst of picks between two heartbeats spreads instead of piling onto one node.
 */
export interface NodePicker {
  /**
   * Picks among `nodes` (in the registry's stable order, by `nodeId`), leaving out those in `avoid`
   * unless that leaves none. Returns undefined only when `nodes` is empty.
   */
  pick(
    strategy: BalanceStrategy,
    nodes: readonly IoNodeRecord[],
    avoid?: ReadonlySet<string>,
  ): IoNodeRecord | undefined;
  /** Drops what the picker remembers of a node that left. */
  forget(nodeId: string): void;
}

/** `random` is the source of `random` picks (tests pass a seeded one). */
export function createNodePicker(random: () => number = Math.random): NodePicker {
  const pending = new Map<string, { lastSeen: number; count: number }>();
  let lastRoundRobin: string | undefined;

  function picksSince(node: IoNodeRecord): number {
    const entry = pending.get(node.nodeId);
    return entry && entry.lastSeen === node.lastSeen ? entry.count : 0;
  }

  function choose(strategy: BalanceStrategy, candidates: readonly IoNodeRecord[]): IoNodeRecord {
    switch (strategy) {
      case 'random':
        return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))]!;
      case 'round-robin': {
        // The first node after the last one picked, by id: stable while nodes come and go.
        const last = lastRoundRobin;
        return (last === undefined ? undefined : candidates.find((n) => n.nodeId > last)) ?? candidates[0]!;
      }
      case 'fewest-connections': {
        let best = candidates[0]!;
        let bestLoad = best.connections + picksSince(best);
        for (const node of candidates.slice(1)) {
          const load = node.connections + picksSince(node);
          if (load < bestLoad) {
            best = node;
            bestLoad = load;
          }
        }
        return best;
      }
    }
  }

  return {
    pick(strategy, nodes, avoid) {
      if (nodes.length === 0) return undefined;
      const preferred = avoid?.size ? nodes.filter((n) => !avoid.has(n.nodeId)) : nodes;
      const node = choose(strategy, preferred.length > 0 ? preferred : nodes);
      if (strategy === 'round-robin') lastRoundRobin = node.nodeId;
      const entry = pending.get(node.nodeId);
      if (entry && entry.lastSeen === node.lastSeen) entry.count++;
      else pending.set(node.nodeId, { lastSeen: node.lastSeen, count: 1 });
      return node;
    },
    forget(nodeId) {
      pending.delete(nodeId);
    },
  };
}
