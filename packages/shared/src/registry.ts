import type { Keys } from './keys.js';
import { createListeners } from './listeners.js';
import { judgeLiveness, type LivenessView, NO_LIVENESS_VIEW } from './liveness.js';
import {
  appNodeLiveness,
  claimExpired,
  ioNodeLiveness,
  type LivenessKind,
  readListed,
  readLiveness,
} from './liveness-store.js';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';
import type { AppNodeRecord } from './wire/app-node-record.js';
import type { IoNodeRecord } from './wire/io-node-record.js';

/** The io-nodes live at `now` that take connections, ordered by `nodeId`. */
export function readLiveNodes(
  redis: RedisConnection,
  keys: Keys,
  now: number = Date.now(),
  logger?: Logger,
): Promise<IoNodeRecord[]> {
  return readListed(redis, ioNodeLiveness(keys), now, logger);
}

/** The app-nodes live at `now`, ordered by `nodeId`. */
export function readLiveAppNodes(
  redis: RedisConnection,
  keys: Keys,
  now: number = Date.now(),
  logger?: Logger,
): Promise<AppNodeRecord[]> {
  return readListed(redis, appNodeLiveness(keys), now, logger);
}

/** Whether io-node `nodeId`'s record is current: one ZSCORE, for code that asks about one node. */
export async function isNodeLive(
  redis: RedisConnection,
  keys: Keys,
  nodeId: string,
  now: number = Date.now(),
): Promise<boolean> {
  const expiresAt = await redis.zscore(ioNodeLiveness(keys).index, nodeId);
  return expiresAt !== null && Number(expiresAt) > now;
}

/** Events of a {@link RegistryWatcher}. */
export interface RegistryEvents<R = IoNodeRecord> {
  /** A node is listed: it started taking connections, or came back after its record expired. */
  'peer-joined': (node: R) => void;
  /** A node is no longer listed: it began a clean shutdown, or its record expired. */
  'peer-left': (node: R) => void;
  /**
   * A node's record expired without a goodbye (dead, or cut off from Redis). Every watcher that sees it
   * raises it once per expiry.
   */
  'peer-expired': (nodeId: string) => void;
  /**
   * This watcher purged a node that stayed expired past the retention (see `purge`). Exactly one watcher
   * raises it per node, whichever claimed it first.
   */
  'peer-purged': (nodeId: string) => void;
  /** Every successful read, with the whole list (fresh connection counts included). */
  refresh: (nodes: readonly R[]) => void;
}

export interface RegistryWatcherOptions<R extends { readonly nodeId: string } = IoNodeRecord> {
  /** Connection for the reads (a command connection; the watcher does not close it). */
  redis: RedisConnection;
  /** Which records: `ioNodeLiveness(keys)` or `appNodeLiveness(keys)`. */
  kind: LivenessKind<R>;
  /** How often the records are read. @defaultValue 1000 */
  intervalMs?: number;
  /** How often nodes write their records (see `judgeLiveness`). @defaultValue 2000 */
  heartbeatIntervalMs?: number;
  /** How long an expired node is kept before it is purged. @defaultValue 0 */
  retentionMs?: number;
  /**
   * Claims expired nodes past `retentionMs` and calls this with each before raising `peer-purged` (a
   * purge that fails is logged; the node's claim is gone, so the sweep of what it left must be idempotent
   * elsewhere). Without it, this watcher purges nothing. @defaultValue none
   */
  purge?: (nodeId: string) => Promise<void>;
  /**
   * A connection dedicated to subscribing (the watcher subscribes it to the kind's channel and
   * unsubscribes on close, but does not close it): join/leave announcements then trigger an immediate
   * read instead of waiting for the next poll. Without it, changes are seen within `intervalMs`.
   * @defaultValue none
   */
  subscriber?: RedisConnection;
  /** A node id never reported (a node watching its peers leaves itself out). @defaultValue none */
  exclude?: string;
  /** @defaultValue no logging */
  logger?: Logger;
}

/**
 * The one watcher of liveness records: a poller that keeps the listed nodes in memory and turns what
 * `judgeLiveness` decides into events, for everything that cares (frontend lists, peers, presence purge,
 * recovery windows, the admin view). Read failures are logged and retried at the next poll; the view
 * keeps its last good value meanwhile (see `refreshedAt` to tell how old it is).
 */
export interface RegistryWatcher<R extends { readonly nodeId: string } = IoNodeRecord> {
  /** Listed nodes at the last successful read, ordered by `nodeId`. */
  readonly nodes: readonly R[];
  /** Whether a node counts as live (starting and draining nodes included; see `judgeLiveness`). */
  isLive(nodeId: string): boolean;
  /** When the last successful read finished (ms since epoch); 0 before the first. */
  readonly refreshedAt: number;
  /** The first read happens before this resolves; it rejects if that read fails. */
  start(): Promise<void>;
  /** Reads now (calls made while a read is under way share it) and returns the listed nodes. */
  refresh(): Promise<readonly R[]>;
  /** Registers a listener; returns the function that removes it. */
  on<E extends keyof RegistryEvents<R>>(event: E, listener: RegistryEvents<R>[E]): () => void;
  /** Stops polling and unsubscribes. Idempotent. */
  close(): Promise<void>;
}

/** Creates a {@link RegistryWatcher}; nothing is read until `start()`. */
export function watchRegistry<R extends { readonly nodeId: string } = IoNodeRecord>(
  options: RegistryWatcherOptions<R>,
): RegistryWatcher<R> {
  const { redis, kind, subscriber, exclude, logger } = options;
  const intervalMs = options.intervalMs ?? 1_000;
  if (!Number.isInteger(intervalMs) || intervalMs < 1) {
    throw new TypeError(`RegistryWatcherOptions.intervalMs must be a positive integer, got ${intervalMs}`);
  }
  const settings = {
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 2_000,
    retentionMs: options.retentionMs ?? 0,
  };
  const listeners = createListeners<RegistryEvents<R>>(logger);
  const { emit } = listeners;
  let view: LivenessView = NO_LIVENESS_VIEW;
  let known = new Map<string, R>();
  let nodes: readonly R[] = [];
  let refreshedAt = 0;
  let inFlight: Promise<readonly R[]> | undefined;
  let next: Promise<readonly R[]> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastError = '';

  async function read(): Promise<readonly R[]> {
    const { entries, records } = await readLiveness(redis, kind, logger);
    if (closed) return nodes;
    const now = Date.now();
    const verdict = judgeLiveness(
      view,
      entries.filter((e) => e.nodeId !== exclude),
      now,
      settings,
    );
    view = verdict.view;
    const before = known;
    // The records of the listed nodes; `before` keeps what `peer-left` reports once a hash is gone.
    known = new Map([...view.listed].map((id) => [id, records.get(id)!]));
    nodes = Object.freeze([...known.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)));
    refreshedAt = now;
    for (const id of verdict.left) emit('peer-left', before.get(id)!);
    for (const id of verdict.joined) emit('peer-joined', known.get(id)!);
    for (const id of verdict.expired) {
      logger?.info({ expired: id }, `${kind.name} record expired`);
      emit('peer-expired', id);
    }
    if (options.purge && verdict.purgeBefore !== undefined) {
      const purgeBefore = verdict.purgeBefore;
      if (entries.some((e) => e.expiresAt <= purgeBefore && e.nodeId !== exclude)) {
        for (const dead of await claimExpired(redis, kind, purgeBefore)) await purgeOne(dead);
      }
    }
    emit('refresh', nodes);
    return nodes;
  }

  async function purgeOne(dead: string): Promise<void> {
    try {
      await options.purge?.(dead);
      logger?.info({ purged: dead }, `${kind.name} expired past the retention; purged`);
    } catch (err) {
      logger?.error({ err, purged: dead }, `purging an expired ${kind.name} failed`);
    }
    emit('peer-purged', dead);
  }

  /** A read that starts no earlier than the call: one under way may have missed what the caller knows. */
  function refresh(): Promise<readonly R[]> {
    if (!inFlight) {
      inFlight = read().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    }
    next ??= inFlight
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        return closed ? nodes : refresh();
      });
    return next;
  }

  function poll(): void {
    if (inFlight) return;
    refresh().then(
      () => {
        if (lastError) logger?.info(`${kind.name} records readable again`);
        lastError = '';
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== lastError) logger?.warn({ err }, `${kind.name} records read failed; retrying`);
        lastError = message;
      },
    );
  }

  const onMessage = (channel: string) => {
    if (channel !== kind.channel || closed) return;
    // An announcement may describe a change a read under way missed: queue a fresh one.
    refresh().catch((err: unknown) => logger?.warn({ err }, `${kind.name} records read failed; retrying`));
  };

  return {
    get nodes() {
      return nodes;
    },
    isLive: (nodeId) => view.live.has(nodeId),
    get refreshedAt() {
      return refreshedAt;
    },
    async start() {
      if (subscriber && kind.channel) {
        subscriber.on('message', onMessage);
        await subscriber.subscribe(kind.channel);
      }
      await refresh();
      if (!closed) timer = setInterval(poll, intervalMs);
    },
    refresh,
    on: listeners.on,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (subscriber && kind.channel) {
        subscriber.off('message', onMessage);
        if (subscriber.status === 'ready') {
          await subscriber.unsubscribe(kind.channel).catch(() => undefined);
        }
      }
      await Promise.all([inFlight?.catch(() => undefined), next?.catch(() => undefined)]);
    },
  };
}
