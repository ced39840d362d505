import {
  type BroadcastAcks,
  type CommandPublisher,
  closeRedis,
  createCommandPublisher,
  createCommandSender,
  createHistoryRules,
  createKeys,
  createPresenceStore,
  createRedis,
  type DefaultEventsMap,
  type EventNames,
  type EventParams,
  type HistoryPage,
  type HistoryPosition,
  type HistoryReadOptions,
  IoclusterError,
  type PresenceMember,
  type RedisConnection,
  runCloseSteps,
  type SelectionChange,
  type SocketDescription,
  userRoom,
} from '@iocluster/shared';
import { EmitOperator, type EmitResult, type OperatorContext } from './emit-operator.js';
import { type EmitterOptions, resolveEmitterOptions } from './emitter-options.js';
import { createIdempotency } from './idempotency.js';

/** Options of a publish. */
export interface PublishOptions {
  /**
   * Names this publish: another publish with the same key within the idempotency window (from any
   * process of the stack) delivers nothing and resolves with this one's answer.
   * @defaultValue none: every call publishes
   */
  idempotencyKey?: string;
}

/** What `publish` resolves with. */
export interface PublishResult {
  /** The message's place in the room's history; null when the room keeps no history. */
  position: HistoryPosition | null;
  /** True when an earlier publish with the same idempotency key answered, and nothing was sent now. */
  repeated: boolean;
}

/** What `broadcast` resolves with. */
export interface BroadcastResult extends EmitResult {
  /** True when an earlier broadcast with the same idempotency key answered, and nothing was sent now. */
  repeated: boolean;
}

/** A room's presence counts. */
export interface PresenceStats {
  /** Distinct members (a user with three tabs counts once). */
  members: number;
  /** Connections in the roster. */
  connections: number;
}

/** A room that has presence members, with their count. */
export interface PresenceRoom {
  room: string;
  members: number;
}

/**
 * Emits to an iocluster stack's clients from any process (a script, a job worker, another service),
 * through the same command path app-nodes use: a room emit reaches only the io-nodes holding members,
 * an emit to a room that keeps history is recorded there first (clients recover it), and every emit
 * resolves once it is in Redis. Also reads presence and history.
 * @typeParam ServerEvents - events clients receive (name → listener signature); any by default
 */
export interface Emitter<ServerEvents extends object = DefaultEventsMap> {
  /** Targets rooms on every io-node. */
  to(rooms: string | readonly string[]): EmitOperator<ServerEvents>;
  /** Targets every connection of a user (the reserved room `userRoom(id)`), on every io-node. */
  toUser(id: string): EmitOperator<ServerEvents>;
  /** How long acks and selection requests wait (ms); see {@link EmitOperator.timeout}. */
  timeout(ms: number): EmitOperator<ServerEvents>;
  /** Every socket of the cluster, as descriptions. */
  fetchSockets(): Promise<SocketDescription[]>;
  /** Makes every socket join `rooms`. */
  socketsJoin(rooms: string | readonly string[]): Promise<SelectionChange>;
  /** Makes every socket leave `rooms`. */
  socketsLeave(rooms: string | readonly string[]): Promise<SelectionChange>;
  /** Emits to every client with an acknowledgement; resolves with the answers that came in time. */
  emitWithAck(event: string, ...args: unknown[]): Promise<BroadcastAcks>;
  /**
   * Disconnects one socket, wherever it is (`close`: its connection too); with a `reason`, the client is
   * told it first as a `$error` `{ code: 'DISCONNECTED', message: reason }`. `count` is 0 when no io-node
   * holds it.
   */
  disconnect(socketId: string, options?: { close?: boolean; reason?: string }): Promise<SelectionChange>;
  /** Disconnects every connection of a user, on every io-node, closing them; the reason as above. */
  disconnectUser(id: string, reason?: string): Promise<SelectionChange>;
  /** Alias of `to`. */
  in(rooms: string | readonly string[]): EmitOperator<ServerEvents>;
  /** Targets every client but these rooms / socket ids. */
  except(rooms: string | readonly string[]): EmitOperator<ServerEvents>;
  /** Socket.IO's `volatile`: emits that may be lost and are never kept in a room's history. */
  readonly volatile: EmitOperator<ServerEvents>;
  /** Emits to every client on every io-node. */
  emit<E extends EventNames<ServerEvents>>(
    event: E,
    ...args: EventParams<ServerEvents, E>
  ): Promise<EmitResult>;
  /**
   * Emits `event` with one argument, `data`, to a room: the HTTP API's publish. Resolves with the
   * message's history position when the room keeps history.
   */
  publish(room: string, event: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Emits `event` with `data` to several rooms at once (a client in two of them gets it once), recorded
   * in each that keeps history.
   */
  broadcast(
    rooms: readonly string[],
    event: string,
    data: unknown,
    options?: PublishOptions,
  ): Promise<BroadcastResult>;
  /** A room's history: the newest `limit` messages (100 by default, 1000 at most), or those after `since`. */
  history(room: string, options?: HistoryReadOptions): Promise<HistoryPage>;
  /** Rooms that keep history from now on (globs like `chat:*`, or RegExps), besides `options.history.rooms`. */
  keepHistory(patterns: string | RegExp | readonly (string | RegExp)[]): void;
  /** Whether an emit to this room is recorded in its history. */
  keepsHistory(room: string): boolean;
  /** A room's presence roster: its members, each with its connections and their meta. */
  presence(room: string): Promise<PresenceMember[]>;
  /** A room's member and connection counts, without reading its roster. */
  presenceStats(room: string): Promise<PresenceStats>;
  /**
   * Rooms that have presence members, up to `max` (sampled from each io-node's index, no scan of the key
   * space), sorted by name. @defaultValue max 200
   */
  presenceRooms(max?: number): Promise<PresenceRoom[]>;
  /** Waits for emits under way, then closes the Redis connection. Idempotent. */
  close(): Promise<void>;
}

/** Most rooms `presenceRooms` lists. */
const MAX_ROOMS = 1_000;

/** Builds an emitter; its Redis connection opens with the first call that needs it. */
export function createEmitter<ServerEvents extends object = DefaultEventsMap>(
  options: EmitterOptions,
): Emitter<ServerEvents> {
  const opts = resolveEmitterOptions(options);
  const keys = createKeys(opts.prefix);
  const logger = opts.logger.child({ component: 'emitter' });
  const redis: RedisConnection = createRedis(opts.redis, 'publisher', {
    logger,
    connectionName: 'emitter',
    lazy: true,
  });
  // Answers to requests (fetchSockets, socketsJoin...) come on a subscriber of its own, opened by the first.
  const { transport, requester, replySubscriber } = createCommandSender({
    redis: opts.redis,
    connection: redis,
    keys,
    logger,
    name: 'emitter',
    transport: {
      inboxRetentionMs: opts.inboxRetentionMs,
      oneRoundTrip: opts.commandAppendScript,
      recoveryWindowMs: opts.recoveryWindowMs,
      replicaWait: opts.replicaWait,
    },
    commands: opts.commands,
    replies: opts.replies,
  });
  const history = createHistoryRules(transport.history, opts.history);
  const publisher: CommandPublisher = createCommandPublisher(transport, {
    history,
    logger,
    status: () => redis.status,
    requester,
  });
  const presence = createPresenceStore(redis, keys);
  const idempotency = createIdempotency(redis, keys, opts.idempotencyWindowMs);
  let closing: Promise<void> | undefined;
  let repliesStarted: Promise<void> | undefined;
  const context: OperatorContext = {
    publisher,
    repliesReady() {
      if (closing) return Promise.reject(new IoclusterError('NODE_CLOSING', 'the emitter is closed'));
      repliesStarted ??= requester.start();
      return repliesStarted;
    },
  };
  const root = () => new EmitOperator<ServerEvents>(context);

  /** Runs `fn` once per idempotency key (namespaced by `kind`), or every time without one. */
  async function once<T>(
    kind: string,
    key: string | undefined,
    fn: () => Promise<T>,
  ): Promise<{ answer: T; repeated: boolean }> {
    if (key === undefined) return { answer: await fn(), repeated: false };
    if (typeof key !== 'string' || key.length === 0 || key.length > 256) {
      throw new TypeError('idempotencyKey must be a string of 1 to 256 characters');
    }
    return idempotency.run(`${kind}:${key}`, fn);
  }

  function checkRoom(room: unknown, what: string): asserts room is string {
    if (typeof room !== 'string' || room.length === 0)
      throw new TypeError(`${what}: room must be a non-empty string`);
  }

  return {
    to: (rooms) => root().to(rooms),
    in: (rooms) => root().to(rooms),
    except: (rooms) => root().except(rooms),
    get volatile() {
      return root().volatile;
    },
    emit: (event, ...args) => root().emit(event, ...args),
    toUser: (id) => root().to(userRoom(checkUserId(id))),
    timeout: (ms) => root().timeout(ms),
    fetchSockets: () => root().fetchSockets(),
    socketsJoin: (rooms) => root().socketsJoin(rooms),
    socketsLeave: (rooms) => root().socketsLeave(rooms),
    emitWithAck: (event, ...args) => root().emitWithAck(event, ...args),
    disconnect(socketId, disconnectOptions = {}) {
      if (typeof socketId !== 'string' || socketId.length === 0) {
        return Promise.reject(new TypeError('disconnect(): socketId must be a non-empty string'));
      }
      // A socket id is a room of one: the io-node holding the socket applies it, the others find nobody.
      return root()
        .to(socketId)
        .disconnectSockets(disconnectOptions.close ?? false, disconnectOptions.reason);
    },
    disconnectUser(id, reason) {
      return root()
        .to(userRoom(checkUserId(id)))
        .disconnectSockets(true, reason);
    },

    async publish(room, event, data, publishOptions = {}) {
      checkRoom(room, 'publish()');
      const { answer, repeated } = await once('publish', publishOptions.idempotencyKey, async () => {
        const { recorded } = await root()
          .to(room)
          .emit(
            event as EventNames<ServerEvents>,
            ...([data] as EventParams<ServerEvents, EventNames<ServerEvents>>),
          );
        return { position: recorded[0]?.position ?? null };
      });
      return { ...answer, repeated };
    },

    async broadcast(rooms, event, data, publishOptions = {}) {
      if (!Array.isArray(rooms) || rooms.length === 0) {
        throw new TypeError('broadcast(): rooms must be a non-empty array');
      }
      for (const room of rooms) checkRoom(room, 'broadcast()');
      const { answer, repeated } = await once('broadcast', publishOptions.idempotencyKey, () =>
        root()
          .to(rooms)
          .emit(
            event as EventNames<ServerEvents>,
            ...([data] as EventParams<ServerEvents, EventNames<ServerEvents>>),
          ),
      );
      return { ...answer, repeated };
    },

    history: (room, readOptions) => history.read(room, readOptions),
    keepHistory(patterns) {
      history.keep(typeof patterns === 'string' || patterns instanceof RegExp ? [patterns] : patterns);
    },
    keepsHistory: (room) => history.keeps(room),
    presence: (room) => presence.roster(room),
    async presenceStats(room) {
      const [members, connections] = await Promise.all([
        presence.count(room),
        presence.connectionCount(room),
      ]);
      return { members, connections };
    },
    async presenceRooms(max = 200) {
      const bounded = Math.min(Math.max(1, Math.floor(max)), MAX_ROOMS);
      const rooms = await presence.rooms(bounded, 0);
      return rooms.map(({ room, members }) => ({ room, members }));
    },

    close() {
      closing ??= runCloseSteps(
        [
          ['flush commands', () => publisher.close()],
          ['end requests', () => requester.close()],
          ['close redis', () => Promise.all([closeRedis(redis), closeRedis(replySubscriber)])],
        ],
        logger,
        'emitter',
      );
      return closing;
    },
  };
}

/** A user id as `toUser` / `disconnectUser` take it: a non-empty string. */
function checkUserId(id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('user id must be a non-empty string');
  return id;
}
