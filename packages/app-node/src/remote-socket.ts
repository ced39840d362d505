import {
  type ClientInfo,
  type CommandPublisher,
  checkPresenceMeta,
  checkTimeout,
  DEFAULT_ACK_TIMEOUT_MS,
  type DefaultEventsMap,
  type EventNames,
  type EventParams,
  encodeArgs,
  type HandshakeInfo,
  type JoinCommand,
  type ParamsBeforeAck,
  type PresenceMeta,
  presenceMemberId,
  socketEmitWithAck,
} from '@iocluster/shared';
import type { PresenceScope } from './presence-writes.js';
import { type RewindOption, rewindSpecOf } from './rewind-option.js';

/** Options of {@link AppSocket.join}. */
export interface JoinOptions {
  /**
   * Also join the rooms' presence rosters with this meta (a small JSON object, at most 2 KB): the room's
   * members are told when this client's member joins or leaves, and `app.presence(room)` lists it.
   * @defaultValue not in the roster
   */
  presence?: PresenceMeta;
  /**
   * Send the client the rooms' last messages from their history before any live one, in order and
   * without duplicates: a count (`10`), a duration (`'30s'`, `{ ms: 30000 }`), or both
   * (`{ count: 10, ms: 30000 }`). Every room joined must keep history (`keepHistory`), else the join
   * throws a TypeError. @defaultValue none
   */
  rewind?: RewindOption;
}

/** What an ack of event `E` answers with. */
type AckOf<ServerEvents, E extends EventNames<ServerEvents>> =
  EventParams<ServerEvents, E> extends [...unknown[], (answer: infer R, ...rest: never[]) => unknown]
    ? R
    : unknown;

/** What `socket.timeout(ms)` offers: an emit that waits for the client's answer. */
export interface AckEmitter<ServerEvents extends object> {
  /**
   * Emits to the client and resolves with its answer (the first argument of its ack callback), or
   * rejects with ACK_TIMEOUT when none came in time. In a handler, never waits past its time limit.
   */
  emitWithAck<E extends EventNames<ServerEvents>>(
    event: E,
    ...args: ParamsBeforeAck<EventParams<ServerEvents, E>>
  ): Promise<AckOf<ServerEvents, E>>;
}

/**
 * A client anywhere in the cluster, as `fetchSockets()` returns it (Socket.IO's `RemoteSocket`) and the
 * base of the socket handlers get: its description (`id`, `nodeId`, `user`, `data`, `rooms`,
 * `handshake`) and what may be done to it, sent to the io-node holding it. Changes (`setData`, `join`,
 * `leave`) are mirrored here at once.
 * @typeParam ServerEvents - events the client receives (name → listener signature); any by default
 * @typeParam SocketData - the shape of `data`; any JSON object by default
 * @typeParam User - what the io-node's `authenticate` hook returns (JWT claims, say); `unknown` by
 *   default. Declare `Claims | null` when io-nodes admit anonymous clients.
 */
export class RemoteSocket<
  ServerEvents extends object = DefaultEventsMap,
  SocketData extends object = Record<string, unknown>,
  User = unknown,
> {
  /** Socket id, unique across the cluster. */
  readonly id: string;
  /** Id of the io-node holding the connection. */
  readonly nodeId: string;
  /** What the io-node's `authenticate` hook returned (null for anonymous clients). */
  readonly user: User;
  readonly handshake: Readonly<HandshakeInfo>;
  private readonly origin: string | undefined;
  private readonly state: Record<string, unknown>;
  private readonly roomSet: Set<string>;

  constructor(
    info: ClientInfo,
    protected readonly publisher: CommandPublisher,
    /** Where this job's presence writes are recorded, so the app-node's roster reads show them. */
    private readonly writes?: PresenceScope,
    /** Which rooms keep history (a rewinding join needs it). */
    private readonly keepsHistory?: (room: string) => boolean,
  ) {
    this.id = info.id;
    this.nodeId = info.nodeId;
    this.user = info.user as User;
    this.handshake = info.handshake;
    this.origin = info.origin;
    this.state = { ...info.data };
    this.roomSet = new Set(info.rooms);
  }

  /** Connection-scoped data; change it with {@link AppSocket.setData}. */
  get data(): Readonly<Partial<SocketData>> {
    return this.state as Partial<SocketData>;
  }

  /** Rooms the client is in (without its own id). */
  get rooms(): ReadonlySet<string> {
    return this.roomSet;
  }

  /** Merges `patch` into the client's data; the next events' handlers, on any app-node, see it. */
  setData(patch: Partial<SocketData>): void {
    Object.assign(this.state, patch);
    this.publisher.publish(this.nodeId, { type: 'set-data', socketId: this.id, data: patch });
  }

  /** Emits to this client only. */
  emit<E extends EventNames<ServerEvents>>(event: E, ...args: EventParams<ServerEvents, E>): true {
    this.publisher.publish(this.nodeId, {
      type: 'emit',
      event,
      socketId: this.id,
      ...encodeArgs(args as unknown[]),
    });
    return true;
  }

  /**
   * Gives the client `ms` to answer `emitWithAck` (Socket.IO's `socket.timeout(ms).emitWithAck`); from a
   * handler, on any app-node, the answer comes back through the reply path.
   */
  timeout(ms: number): AckEmitter<ServerEvents> {
    const timeoutMs = checkTimeout(ms, 'socket.timeout()');
    return {
      emitWithAck: (event, ...args) =>
        socketEmitWithAck(this.publisher, { nodeId: this.nodeId, socketId: this.id }, timeoutMs, event, args),
    };
  }

  /** `timeout(5000).emitWithAck(...)`. */
  emitWithAck<E extends EventNames<ServerEvents>>(
    event: E,
    ...args: ParamsBeforeAck<EventParams<ServerEvents, E>>
  ): Promise<AckOf<ServerEvents, E>> {
    return this.timeout(DEFAULT_ACK_TIMEOUT_MS).emitWithAck(event, ...args);
  }

  /**
   * Who this client is in presence rosters: its user's `id` (or `sub`) when the io-node's `authenticate`
   * hook returned one, else its socket id (for a recovered client, that of its first connection).
   */
  get memberId(): string {
    return presenceMemberId(this.user, this.origin ?? this.id);
  }

  /**
   * Joins rooms; an emit to them published after this call reaches the client. With `presence`, the
   * client also enters the rooms' rosters (written by its io-node once it applied the join; this
   * app-node's roster reads show it at once, while the job runs).
   */
  join(rooms: string | readonly string[], options: JoinOptions = {}): Promise<void> {
    const list = typeof rooms === 'string' ? [rooms] : [...rooms];
    const cmd: JoinCommand = { type: 'join', socketId: this.id, rooms: list };
    if (options.presence !== undefined) {
      try {
        cmd.presence = checkPresenceMeta(options.presence, 'presence');
      } catch (err) {
        throw new TypeError(`socket.join(): ${(err as Error).message}`);
      }
    }
    if (options.rewind !== undefined) {
      cmd.rewind = rewindSpecOf(options.rewind);
      const without = list.find((room) => this.keepsHistory && !this.keepsHistory(room));
      if (without !== undefined) {
        throw new TypeError(`socket.join(): rewind needs history, and room "${without}" keeps none`);
      }
    }
    for (const room of list) {
      this.roomSet.add(room);
      if (cmd.presence) {
        this.writes?.joined(room, {
          socketId: this.id,
          memberId: this.memberId,
          nodeId: this.nodeId,
          meta: cmd.presence,
        });
      }
    }
    this.publisher.publish(this.nodeId, cmd);
    return this.publisher.flush();
  }

  /** Leaves a room (and its roster). */
  leave(room: string): Promise<void> {
    this.roomSet.delete(room);
    this.writes?.left(room, this.id);
    this.publisher.publish(this.nodeId, { type: 'leave', socketId: this.id, rooms: [room] });
    return this.publisher.flush();
  }

  /** Disconnects the client; `close` also closes the underlying connection. */
  disconnect(close = false): void {
    this.writes?.gone(this.id);
    this.publisher.publish(this.nodeId, { type: 'disconnect', socketId: this.id, close });
  }
}
