import {
  type Command,
  type CommandSubscriber,
  createRedisReplySender,
  decodeCommandEnvelope,
  type Keys,
  type Logger,
  type RedisConnection,
  type RoutingTable,
} from '@iocluster/shared';
import { createRecentIds } from './recent-ids.js';

export type { CommandSubscriber } from '@iocluster/shared';

export interface InboxSubscriberOptions {
  nodeId: string;
  keys: Keys;
  routing: RoutingTable;
  /** Connection for the blocking reads, used by nothing else (closed by the caller). */
  reader: RedisConnection;
  /** Connection for trims and inbox checks (closed by the caller). */
  commands: RedisConnection;
  logger: Logger;
  /**
   * Called with each entry read, with how long ago (ms) Redis appended it: the entry id's time, Redis's
   * clock, against this process's (so clock skew between the hosts adds to it).
   */
  onLag?: (ms: number) => void;
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
  const replies = createRedisReplySender(commands, keys, nodeId);
  /** The last entry applied, and where the next read starts (behind it after a rewind). */
  let lastId = '0-0';
  let cursor = '0-0';
  const applied = createRecentIds(APPLIED_REMEMBERED);
  let reconnected = false;
  let trimmedAt = 0;
  let closed = false;
  let closing: Promise<void> | undefined;
  let loop: Promise<void> | undefined;

  /**
   * Applies one entry's commands in order. Synchronous unless a handler returns a promise (a history gap
   * being read): then the rest of the entry waits for it, and so does the read loop.
   */
  function apply(id: string, fields: string[]): Promise<void> | undefined {
    if (fields[0] !== 'c' || fields[1] === undefined) return undefined;
    const raw = fields[1];
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
          cursor,
        )) as StreamReply;
        if (failing) logger.info({ lastId }, 'reading commands again');
        failing = false;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            cursor = id;
            if (!applied.first(id)) continue;
            lastId = id;
            options.onLag?.(Math.max(0, Date.now() - Number(id.slice(0, id.indexOf('-')))));
            const pending = apply(id, fields);
            if (pending) await pending;
          }
        }
        if (reply && Date.now() - trimmedAt >= TRIM_INTERVAL_MS) trim();
      } catch (err) {
        if (closed) return;
        if (!failing)
          logger.warn({ err, lastId }, 'reading commands failed; reading on from the last one applied');
        failing = true;
        reconnected = true;
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
      if (reconnected) {
        // The server may be another one now (a failover): entries appended there while this node still
        // read the old primary can have ids below the last one applied. Read the last REWIND_MS again;
        // what was applied already is skipped by id.
        reconnected = false;
        cursor = rewound(lastId);
      }
    }
  }

  /** What this node applied is of no use to anyone: drop it, but keep what a rewind reads again. */
  function trim(): void {
    trimmedAt = Date.now();
    commands
      .xtrim(inbox, 'MINID', '~', rewound(lastId))
      .catch((err: unknown) => logger.debug({ err }, 'inbox trim failed; the next one will catch up'));
  }

  const onReaderClose = () => {
    reconnected = true;
  };

  async function ensureInbox(): Promise<void> {
    const created = await routing.createInbox(nodeId);
    if (created === null || closed) return;
    // Only a Redis that lost its data (no persistence, or a failover to a replica that lagged) does this.
    logger.error({ lastId }, 'inbox was gone from Redis: commands sent to this node meanwhile are lost');
    lastId = created;
    cursor = created;
    for (const handler of resetHandlers) handler();
  }

  return {
    async start() {
      // A previous life of this node id (a restart with a fixed IO_NODE_ID) may have left entries behind.
      await routing.purge(nodeId);
      lastId = (await routing.createInbox(nodeId)) ?? '0-0';
      cursor = lastId;
      // A reconnect may reach another server (failover): the next read then rewinds (see read()).
      reader.on('close', onReaderClose);
      loop = read();
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
        // The blocking read returns within READ_BLOCK_MS; disconnecting the reader ends it at once.
        reader.off('close', onReaderClose);
        reader.disconnect();
        await Promise.allSettled([loop]);
        handlers.clear();
        resetHandlers.clear();
        await routing.purge(nodeId);
      })();
      return closing;
    },
  };
}
