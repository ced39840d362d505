import {
  type Command,
  decodeCommandEnvelope,
  type Keys,
  type Logger,
  type RedisConnection,
  type RoutingTable,
} from '@iocluster/shared';

/**
 * Receiving side of the command bus. Implementations deliver every command meant for this node to the
 * handlers exactly in the order the app-nodes' appends reached Redis — across app-nodes too: that is what
 * makes a `join` published before an `emit` apply first. They lose nothing while the node's connection
 * to Redis is down, however long, as long as what was sent meanwhile was kept (see the inbox retention):
 * on reconnect they go on from the last command applied. They drop malformed commands with a log line
 * and never throw into the caller. They do not deduplicate: a command appended twice (an app-node's job
 * run again) is delivered twice.
 */
export interface CommandSubscriber {
  /** Makes the node reachable (inbox created, listed as a broadcast target) and starts reading. */
  start(): Promise<void>;
  /**
   * Registers the handler of every command. A handler that returns a promise holds back the commands
   * after it until the promise settles (a room's history gap being read, say): order is kept.
   */
  onCommand(handler: (cmd: Command) => void | Promise<void>): () => void;
  /**
   * Called when this node's inbox or routing entries were found gone while it ran (Redis lost its
   * data): whatever routing state the node holds must be written again. Returns the unsubscribe function.
   */
  onReset(handler: () => void): () => void;
  /**
   * Creates the inbox again if Redis lost it (a restart without persistence): the ingress producer calls
   * it after a reconnect, before the first job, so the answers to that job have somewhere to go.
   */
  ensureInbox(): Promise<void>;
  /** Stops reading and removes the node's inbox and routing entries. Idempotent. */
  close(): Promise<void>;
}

export interface InboxSubscriberOptions {
  nodeId: string;
  keys: Keys;
  routing: RoutingTable;
  /** Connection for the blocking reads, used by nothing else (closed by the caller). */
  reader: RedisConnection;
  /** Connection for trims and heartbeats (closed by the caller). */
  commands: RedisConnection;
  /** How often the node proves it is alive, and purges nodes that stopped doing so. */
  heartbeatIntervalMs: number;
  /** How long the node stays a broadcast target after its last heartbeat. */
  heartbeatTtlMs: number;
  logger: Logger;
  /** Called with each node this one purged after its heartbeat expired (exactly one purger per node). */
  onPurged?: (nodeId: string) => void;
}

/** Entries read per call: enough to drain a burst in a few calls, small enough to keep turns short. */
const READ_COUNT = 1_000;
/** How long one blocking read waits before it is issued again (it is cheap; this bounds close()). */
const READ_BLOCK_MS = 5_000;
/** Applied entries are trimmed from the inbox at most this often. */
const TRIM_INTERVAL_MS = 1_000;
const RETRY_DELAY_MS = 250;

type StreamReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

/**
 * The node's inbox: a Redis Stream that app-nodes append to and this node reads with a blocking XREAD
 * from the id of the last entry it applied, so a reconnect simply reads on (the Socket.IO Redis Streams
 * adapter resumes the same way). One stream per node gives one total order per node.
 */
export function createInboxSubscriber(options: InboxSubscriberOptions): CommandSubscriber {
  const { nodeId, keys, routing, reader, commands, logger } = options;
  const inbox = keys.inbox(nodeId);
  const handlers = new Set<(cmd: Command) => void | Promise<void>>();
  const resetHandlers = new Set<() => void>();
  let lastId = '0-0';
  let trimmedAt = 0;
  let closed = false;
  let closing: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;

  /**
   * Applies one inbox entry. Synchronous while every handler is (the common case: no promise is made);
   * from the first handler that returns a promise on, the rest of the entry waits for it.
   */
  function apply(id: string, fields: string[]): Promise<void> | undefined {
    lastId = id;
    if (fields[0] !== 'c' || fields[1] === undefined) return undefined;
    const raw = fields[1];
    const { cmds, errors } = decodeCommandEnvelope(raw);
    for (const err of errors) logger.warn({ err, entry: id, bytes: raw.length }, 'malformed command dropped');
    return applyFrom(id, cmds, 0, [...handlers], 0);
  }

  function applyFrom(
    id: string,
    cmds: readonly Command[],
    from: number,
    list: readonly ((cmd: Command) => void | Promise<void>)[],
    fromHandler: number,
  ): Promise<void> | undefined {
    for (let i = from; i < cmds.length; i++) {
      const cmd = cmds[i]!;
      for (let h = i === from ? fromHandler : 0; h < list.length; h++) {
        let pending: void | Promise<void>;
        try {
          pending = list[h]!(cmd);
        } catch (err) {
          logger.error({ err, entry: id, type: cmd.type }, 'command handler failed');
          continue;
        }
        if (pending) {
          return pending.then(
            () => applyFrom(id, cmds, i, list, h + 1),
            (err: unknown) => {
              logger.error({ err, entry: id, type: cmd.type }, 'command handler failed');
              return applyFrom(id, cmds, i, list, h + 1);
            },
          );
        }
      }
    }
    return undefined;
  }

  async function read(): Promise<void> {
    let failing = false;
    while (!closed) {
      try {
        const reply = (await reader.xread(
          'COUNT',
          READ_COUNT,
          'BLOCK',
          READ_BLOCK_MS,
          'STREAMS',
          inbox,
          lastId,
        )) as StreamReply;
        if (failing) logger.info({ lastId }, 'reading commands again');
        failing = false;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            const pending = apply(id, fields);
            if (pending) await pending;
          }
        }
        if (reply && Date.now() - trimmedAt >= TRIM_INTERVAL_MS) trim();
      } catch (err) {
        if (closed) return;
        if (!failing)
          logger.warn({ err, lastId }, 'reading commands failed; retrying from the last one applied');
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
    }
  }

  /** Entries this node applied are of no use to anyone: drop them (MINID keeps `lastId` itself). */
  function trim(): void {
    trimmedAt = Date.now();
    commands
      .xtrim(inbox, 'MINID', '~', lastId)
      .catch((err: unknown) => logger.debug({ err }, 'inbox trim failed; the next one will catch up'));
  }

  async function ensureInbox(): Promise<void> {
    const created = await routing.createInbox(nodeId);
    if (created === null || closed) return;
    // Only a Redis that lost its data (no persistence, or a failover to a replica that lagged) does this.
    logger.error({ lastId }, 'inbox was gone from Redis: commands sent to this node meanwhile are lost');
    lastId = created;
    await routing.touch(nodeId, Date.now() + options.heartbeatTtlMs);
    for (const handler of resetHandlers) handler();
  }

  /** Stays listed as a broadcast target, checks its inbox survived, and purges nodes that died. */
  async function beat(): Promise<void> {
    const now = Date.now();
    await routing.touch(nodeId, now + options.heartbeatTtlMs);
    await ensureInbox();
    for (const dead of await routing.claimExpired(now)) {
      await routing.purge(dead);
      logger.info({ purged: dead }, 'io-node heartbeat expired; its inbox and routing entries purged');
      options.onPurged?.(dead);
    }
  }

  return {
    async start() {
      // A previous life of this node id (a restart with a fixed IO_NODE_ID) may have left entries behind.
      await routing.purge(nodeId);
      lastId = (await routing.createInbox(nodeId)) ?? '0-0';
      await routing.touch(nodeId, Date.now() + options.heartbeatTtlMs);
      loop = read();
      heartbeat = setInterval(() => {
        if (beating) return;
        beating = beat()
          .catch((err: unknown) => logger.warn({ err }, 'inbox heartbeat failed; retrying'))
          .finally(() => {
            beating = undefined;
          });
      }, options.heartbeatIntervalMs);
      heartbeat.unref();
    },
    onCommand(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    ensureInbox,
    onReset(handler) {
      resetHandlers.add(handler);
      return () => resetHandlers.delete(handler);
    },
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(heartbeat);
        // The blocking read returns within READ_BLOCK_MS; disconnecting the reader ends it at once.
        reader.disconnect();
        await Promise.allSettled([loop, beating]);
        handlers.clear();
        resetHandlers.clear();
        await routing.purge(nodeId);
      })();
      return closing;
    },
  };
}
