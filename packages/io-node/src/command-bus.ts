import {
  type Command,
  type CommandSubscriber,
  createRedisReplySender,
  decodeCommandEnvelope,
  type Keys,
  type Logger,
  type RedisConnection,
  type RoutingTable,
  readSlots,
} from '@iocluster/shared';
import { createRecentIds } from './recent-ids.js';

export type { CommandSubscriber } from '@iocluster/shared';

export interface InboxSubscriberOptions {
  nodeId: string;
  keys: Keys;
  routing: RoutingTable;
  /** Connection subscribed to the inbox's pushes, used by nothing else (closed by the caller). */
  reader: RedisConnection;
  /** Connection for the reads that fill gaps, trims and inbox checks (closed by the caller). */
  commands: RedisConnection;
  logger: Logger;
  /**
   * Called with each entry applied, with how long ago (ms) Redis appended it: the entry id's time, Redis's
   * clock, against this process's (so clock skew between the hosts adds to it).
   */
  onLag?: (ms: number) => void;
  /** With no push for this long (ms), the inbox is read once. @defaultValue 1000 */
  idleReadMs?: number;
  /** Pushes kept while a gap is read or an entry waits (past it they are read from the Stream). @defaultValue 10000 */
  maxQueuedPushes?: number;
  /**
   * Subscribe sharded (SSUBSCRIBE), as the appends publish on a Cluster; `reader` must then be made with
   * `sharded`. @defaultValue when `reader` is a Cluster connection
   */
  sharded?: boolean;
}

/** After a reconnect, entries this far (ms) behind the last one applied are read again. */
const REWIND_MS = 10_000;
/** Entry ids remembered as applied, to skip them when read again: far more than 10 s of entries. */
const APPLIED_REMEMBERED = 200_000;

/** The stream id `ms` before `id` (`<ms>-<seq>`), the start of a rewound read. */
function rewound(id: string): string {
  const ms = Number(id.slice(0, id.indexOf('-')));
  return `${Math.max(0, ms - REWIND_MS)}-0`;
}

/** Entries read per call when filling a gap: a burst in a few calls, turns kept short. */
const READ_COUNT = 1_000;
/** With no push for this long (ms), the inbox is read once: an append that published nothing shows up. */
const IDLE_READ_MS = 1_000;
/** Pushes kept while a gap is read or an entry waits; past this they are dropped and read from the Stream. */
const MAX_QUEUED_PUSHES = 10_000;
/** Applied entries are trimmed from the inbox at most this often. */
const TRIM_INTERVAL_MS = 1_000;
const RETRY_DELAY_MS = 250;
/** A lost sharded subscription is made again at most this often (command-bus `repair`). */
const REPAIR_INTERVAL_MS = 2_000;

/** A stream entry id, `<ms>-<seq>`. */
const ENTRY_ID = /^\d+-\d+$/;

type StreamReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

/**
 * The node's inbox: a Redis Stream that app-nodes append to, each append also published on the inbox's
 * name as `<previous entry id> <entry id> <envelope>` (inbox-append.lua). The node applies a push whose
 * previous id is the last entry it applied: one message in, no read to issue again, where a blocking
 * XREAD costs a command per entry on both sides. Any other push shows a gap (missed while the
 * subscription was down, or an append that published nothing): the node then reads the Stream, the
 * record, from the last entry it applied, as it does after a reconnect (rewound a little: a failover
 * may have reordered ids) and after a quiet second. One stream per node gives one total order per node.
 */
export function createInboxSubscriber(options: InboxSubscriberOptions): CommandSubscriber {
  const { nodeId, keys, routing, reader, commands, logger } = options;
  const inbox = keys.inbox(nodeId);
  const idleReadMs = options.idleReadMs ?? IDLE_READ_MS;
  const maxQueuedPushes = options.maxQueuedPushes ?? MAX_QUEUED_PUSHES;
  const handlers = new Set<(cmd: Command) => void | Promise<void>>();
  const resetHandlers = new Set<() => void>();
  const replies = createRedisReplySender(commands, keys, nodeId);
  /** The last entry applied: a push continues it when its previous id is this one. */
  let lastId = '0-0';
  const applied = createRecentIds(APPLIED_REMEMBERED);
  /** Set while the Stream is read or an entry's apply waits: pushes queue behind it, in order. */
  let busy: Promise<void> | undefined;
  const queued: string[] = [];
  let overflowed = false;
  /** A read of the Stream is due: from the last entry applied, or rewound from it. */
  let readWanted: 'on' | 'rewound' | undefined;
  /** Pushes since the idle timer last looked: none means it reads the Stream. */
  let pushesSinceTick = 0;
  let trimmedAt = 0;
  let lost = false;
  let closed = false;
  let closing: Promise<void> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  /**
   * On a Redis Cluster the pushes are sharded (inbox-append.lua): SSUBSCRIBE on the shard holding the
   * inbox, which ioredis makes again on the new primary after a failover. Plain SUBSCRIBE elsewhere, and
   * on a Cluster whose servers lack SSUBSCRIBE (Redis < 7; the appends then PUBLISH).
   */
  let sharded = options.sharded ?? reader.isCluster;
  /** Entries the Stream reads brought that no push had (counted between two idle ticks). */
  let readFresh = 0;
  let repairing = false;
  let repairedAt = 0;

  /**
   * Applies one entry's commands in order. Synchronous unless a handler returns a promise (a history gap
   * being read): then the rest of the entry waits for it, and so does every later entry.
   */
  function accept(id: string, raw: string): Promise<void> | undefined {
    if (!applied.first(id)) return undefined;
    lastId = id;
    const now = Date.now();
    options.onLag?.(Math.max(0, now - Number(id.slice(0, id.indexOf('-')))));
    if (now - trimmedAt >= TRIM_INTERVAL_MS) trim(now);
    const { cmds, errors } = decodeCommandEnvelope(raw);
    for (const err of errors) logger.warn({ err, entry: id, bytes: raw.length }, 'malformed command dropped');
    return applyFrom(cmds, 0, id);
  }

  function applyFrom(cmds: Command[], from: number, id: string): Promise<void> | undefined {
    for (let i = from; i < cmds.length; i++) {
      const cmd = cmds[i]!;
      let waits: Promise<void>[] | undefined;
      for (const handler of handlers) {
        const failed = (err: unknown) =>
          logger.error({ err, entry: id, type: cmd.type }, 'command handler failed');
        try {
          const pending = handler(cmd);
          if (pending) {
            waits ??= [];
            waits.push(pending.catch(failed));
          }
        } catch (err) {
          failed(err);
        }
      }
      if (waits) return Promise.all(waits).then(() => applyFrom(cmds, i + 1, id));
    }
    return undefined;
  }

  /** Holds every later push until `work` is done, then takes the queued ones in order. */
  function hold(work: Promise<void>): void {
    busy = work.finally(() => {
      busy = undefined;
      drain();
    });
  }

  function onMessage(channel: string, message: string): void {
    if (channel !== inbox || closed) return;
    pushesSinceTick++;
    if (busy) {
      if (queued.length < maxQueuedPushes) queued.push(message);
      else overflowed = true;
      return;
    }
    onPush(message);
  }

  function onPush(message: string): void {
    const first = message.indexOf(' ');
    const second = message.indexOf(' ', first + 1);
    if (first < 0 || second < 0) return;
    const id = message.slice(first + 1, second);
    if (!ENTRY_ID.test(id)) return;
    if (message.slice(0, first) !== lastId) {
      // Read already (a gap read overtook its push), or after a gap: the read brings it with the rest.
      if (!applied.has(id)) readStream('on');
      return;
    }
    const pending = accept(id, message.slice(second + 1));
    if (pending) hold(pending);
  }

  function drain(): void {
    if (readWanted) {
      readStream(readWanted);
      return;
    }
    if (overflowed) {
      // Pushes were dropped: the Stream has them, and the queued ones after them.
      overflowed = false;
      queued.length = 0;
      readStream('on');
      return;
    }
    // Synchronous: nothing is queued meanwhile, and a push that holds (or starts a read) stops the loop.
    let taken = 0;
    while (!busy && taken < queued.length) onPush(queued[taken++]!);
    queued.splice(0, taken);
  }

  /** Reads the Stream from the last entry applied (or rewound from it) up to its end, applying each entry. */
  function readStream(from: 'on' | 'rewound'): void {
    if (readWanted !== 'rewound') readWanted = from;
    if (busy || closed) return;
    hold(readToEnd());
  }

  async function readToEnd(): Promise<void> {
    while (readWanted && !closed) {
      let cursor = readWanted === 'rewound' ? rewound(lastId) : lastId;
      readWanted = undefined;
      try {
        for (;;) {
          const reply = (await commands.xread('COUNT', READ_COUNT, 'STREAMS', inbox, cursor)) as StreamReply;
          const entries = reply?.[0]?.[1] ?? [];
          for (const [id, fields] of entries) {
            cursor = id;
            if (fields[0] !== 'c' || fields[1] === undefined) continue;
            if (!applied.has(id)) readFresh++;
            const pending = accept(id, fields[1]);
            if (pending) await pending;
          }
          if (entries.length < READ_COUNT || closed) break;
        }
        if (lost) logger.info({ lastId }, 'reading commands again');
        lost = false;
      } catch (err) {
        if (closed) return;
        if (!lost)
          logger.warn({ err, lastId }, 'reading commands failed; reading on from the last one applied');
        lost = true;
        readWanted ??= 'on';
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
    }
  }

  /** What this node applied is of no use to anyone: drop it, but keep what a rewind reads again. */
  function trim(now: number): void {
    trimmedAt = now;
    commands
      .xtrim(inbox, 'MINID', '~', rewound(lastId))
      .catch((err: unknown) => logger.debug({ err }, 'inbox trim failed; the next one will catch up'));
  }

  async function subscribe(): Promise<void> {
    if (sharded) {
      try {
        await reader.ssubscribe(inbox);
        return;
      } catch (err) {
        if (!/unknown command/i.test(String(err))) throw err;
        sharded = false;
        logger.info(
          'this Redis Cluster has no sharded pub/sub (Redis < 7): the inbox pushes go to every node',
        );
      }
    }
    await reader.subscribe(inbox);
  }

  /**
   * After a reconnect (perhaps to another server: a failover, where entries appended there while this
   * node still read the old primary can have ids below the last one applied) the subscription is made
   * again, then the last REWIND_MS are read again; what was applied already is skipped by id. A sharded
   * subscription is made again by ioredis itself, on the shard's primary of the moment: once it has
   * (`subscribersReady`) the Stream is read the same way. A push missed meanwhile shows as a gap at the
   * next push, or at the idle read.
   */
  const onReaderReady = () => {
    if (closed) return;
    (sharded ? Promise.resolve() : reader.subscribe(inbox))
      .then(() => readStream('rewound'))
      .catch((err: unknown) => logger.warn({ err }, 'subscribing to the inbox again failed'));
  };
  const onShardSubscribed = () => {
    if (!closed && sharded) readStream('rewound');
  };

  /**
   * Makes the sharded subscription again on the shard's primary of the moment. A Redis Cluster drops
   * sharded subscriptions on a node that stops serving their slot (CLUSTER FAILOVER demotes it, a
   * reshard moves the slot) with an unasked SUNSUBSCRIBE, which ioredis reports as an error of that
   * connection and does not act on; nothing else would move the subscription, since this connection
   * sends no command that could meet a MOVED. So on such an error, or when the Stream reads bring
   * entries while no push came for a whole idle tick, the slots are read again (ioredis then moves its
   * subscriber connections) and the inbox subscribed again there.
   */
  async function repair(): Promise<void> {
    const now = Date.now();
    if (!sharded || closed || repairing || now - repairedAt < REPAIR_INTERVAL_MS) return;
    if (!('refreshSlotsCache' in reader)) return;
    repairing = true;
    repairedAt = now;
    try {
      logger.info('inbox pushes stopped arriving: subscribing again on the shard holding the inbox');
      await readSlots(reader);
      await reader.sunsubscribe(inbox);
      await reader.ssubscribe(inbox);
      readStream('rewound');
    } catch (err) {
      logger.warn({ err }, 'subscribing to the inbox again failed; the idle reads go on');
    } finally {
      repairing = false;
    }
  }
  const onShardError = () => void repair();

  async function ensureInbox(): Promise<void> {
    const created = await routing.createInbox(nodeId);
    if (created === null || closed) return;
    // Only a Redis that lost its data (no persistence, or a failover to a replica that lagged) does this.
    logger.error({ lastId }, 'inbox was gone from Redis: commands sent to this node meanwhile are lost');
    lastId = created;
    for (const handler of resetHandlers) handler();
  }

  return {
    async start() {
      // A previous life of this node id (a restart with a fixed IO_NODE_ID) may have left entries behind.
      await routing.purge(nodeId);
      lastId = (await routing.createInbox(nodeId)) ?? '0-0';
      reader.on('message', onMessage);
      reader.on('smessage', onMessage);
      await subscribe();
      reader.on('ready', onReaderReady);
      reader.on('subscribersReady', onShardSubscribed);
      reader.on('nodeError', onShardError);
      // Appended between the inbox's creation and the subscription: read from the Stream.
      readStream('on');
      idleTimer = setInterval(() => {
        if (pushesSinceTick === 0) {
          // Entries arrived, no push did: a sharded subscription that a failover dropped.
          if (readFresh > 0) void repair();
          readStream('on');
        }
        readFresh = 0;
        pushesSinceTick = 0;
      }, idleReadMs);
      idleTimer.unref();
    },
    onCommand(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    ensureInbox,
    reply: (replyTo, id, result) => replies.send(replyTo, id, result),
    onReset(handler) {
      resetHandlers.add(handler);
      return () => resetHandlers.delete(handler);
    },
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(idleTimer);
        reader.off('message', onMessage);
        reader.off('smessage', onMessage);
        reader.off('ready', onReaderReady);
        reader.off('subscribersReady', onShardSubscribed);
        reader.off('nodeError', onShardError);
        reader.disconnect();
        await Promise.allSettled([busy]);
        handlers.clear();
        resetHandlers.clear();
        await routing.purge(nodeId);
      })();
      return closing;
    },
  };
}
