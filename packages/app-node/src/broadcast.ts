import type { CommandPublisher } from '@iocluster/shared';
import {
  type BroadcastAcks,
  broadcastWithAck,
  changeSelection,
  checkTimeout,
  DEFAULT_ACK_TIMEOUT_MS,
  type DefaultEventsMap,
  type EmitCommand,
  type EventNames,
  type EventParams,
  encodeArgs,
  fetchDescriptions,
  type ParamsBeforeAck,
  SELECTION_TIMEOUT_MS,
  type Selection,
  type SelectionChange,
} from '@iocluster/shared';
import { RemoteSocket } from './remote-socket.js';

function asList(rooms: string | readonly string[]): string[] {
  return typeof rooms === 'string' ? [rooms] : [...rooms];
}

/** What an ack of event `E` answers with, for `emitWithAck`. */
type AckOf<ServerEvents, E extends EventNames<ServerEvents>> =
  EventParams<ServerEvents, E> extends [...unknown[], (answer: infer R, ...rest: never[]) => unknown]
    ? R
    : unknown;

/**
 * Targets rooms across every io-node, like Socket.IO's `BroadcastOperator`: immutable, each call returns
 * a new operator. With no room it targets every client; `except` takes rooms or socket ids. Besides
 * emitting, it works on the sockets it selects wherever they are: `fetchSockets`, `socketsJoin`,
 * `socketsLeave`, `disconnectSockets`, and `timeout(ms).emitWithAck` — each asks only the io-nodes the
 * routing table lists for its rooms (every io-node when it names none).
 * @typeParam ServerEvents - events clients receive (name → listener signature); any by default
 * @typeParam SocketData - the shape of fetched sockets' `data`
 * @typeParam User - what fetched sockets' `user` is
 */
export class BroadcastOperator<
  ServerEvents extends object = DefaultEventsMap,
  SocketData extends object = Record<string, unknown>,
  User = unknown,
> {
  constructor(
    private readonly publisher: CommandPublisher,
    private readonly rooms: readonly string[] = [],
    private readonly exceptRooms: readonly string[] = [],
    private readonly isVolatile = false,
    private readonly timeoutMs: number | undefined = undefined,
  ) {}

  private with(
    changes: Partial<{
      rooms: readonly string[];
      except: readonly string[];
      volatile: boolean;
      timeoutMs: number;
    }>,
  ): BroadcastOperator<ServerEvents, SocketData, User> {
    return new BroadcastOperator<ServerEvents, SocketData, User>(
      this.publisher,
      changes.rooms ?? this.rooms,
      changes.except ?? this.exceptRooms,
      changes.volatile ?? this.isVolatile,
      changes.timeoutMs ?? this.timeoutMs,
    );
  }

  /** Adds rooms to the target. */
  to(rooms: string | readonly string[]): BroadcastOperator<ServerEvents, SocketData, User> {
    return this.with({ rooms: [...this.rooms, ...asList(rooms)] });
  }

  /** Alias of {@link BroadcastOperator.to}. */
  in(rooms: string | readonly string[]): BroadcastOperator<ServerEvents, SocketData, User> {
    return this.to(rooms);
  }

  /** Leaves out the members of these rooms (a socket id is a room of one). */
  except(rooms: string | readonly string[]): BroadcastOperator<ServerEvents, SocketData, User> {
    return this.with({ except: [...this.exceptRooms, ...asList(rooms)] });
  }

  /**
   * Socket.IO's `volatile`: the message may be lost. It is never kept in a room's history (so recovery
   * does not replay it), and an io-node drops it for a client whose connection cannot take it now.
   * For what is stale a moment later: typing indicators, cursors.
   */
  get volatile(): BroadcastOperator<ServerEvents, SocketData, User> {
    return this.with({ volatile: true });
  }

  /**
   * How long `emitWithAck` waits for each client's answer, and the selection requests for io-nodes'
   * answers (ms). In a handler, never past the handler's time limit.
   */
  timeout(ms: number): BroadcastOperator<ServerEvents, SocketData, User> {
    return this.with({ timeoutMs: checkTimeout(ms, 'timeout()') });
  }

  /** Emits to every matching client on every io-node. */
  emit<E extends EventNames<ServerEvents>>(event: E, ...args: EventParams<ServerEvents, E>): true {
    const cmd: EmitCommand = { type: 'emit', event, ...encodeArgs(args as unknown[]) };
    if (this.rooms.length > 0) cmd.rooms = [...this.rooms];
    if (this.exceptRooms.length > 0) cmd.except = [...this.exceptRooms];
    if (this.isVolatile) cmd.volatile = true;
    this.publisher.publish(null, cmd);
    return true;
  }

  /**
   * Emits to every matching client with an acknowledgement and resolves once each answered or its time
   * (`timeout(ms)`, 5 s by default) ran out: `responses` as Socket.IO gives them, and the sockets
   * (`missing`) and io-nodes (`missingNodes`) that did not answer. Never rejects for a silent client.
   */
  emitWithAck<E extends EventNames<ServerEvents>>(
    event: E,
    ...args: ParamsBeforeAck<EventParams<ServerEvents, E>>
  ): Promise<BroadcastAcks<AckOf<ServerEvents, E>>> {
    return broadcastWithAck(
      this.publisher,
      this.selection(),
      this.timeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
      event,
      args,
    );
  }

  /**
   * The matching sockets on every io-node, each with `id`, `nodeId`, `user`, `data`, `rooms`, `handshake`
   * and `emit`/`join`/`leave`/`disconnect`. Sockets of an io-node that did not answer in time (dead, cut
   * off) are left out.
   */
  async fetchSockets(): Promise<RemoteSocket<ServerEvents, SocketData, User>[]> {
    const found = await fetchDescriptions(this.publisher, this.selection(), this.requestTimeout());
    return found.map((info) => new RemoteSocket<ServerEvents, SocketData, User>(info, this.publisher));
  }

  /**
   * Makes the matching sockets join `rooms`; resolves once every io-node holding them applied it (an
   * emit to those rooms published afterwards reaches them).
   */
  socketsJoin(rooms: string | readonly string[]): Promise<SelectionChange> {
    const list = asList(rooms);
    return changeSelection(
      this.publisher,
      (request) => ({ type: 'sockets-join', select: this.selection(), rooms: list, request }),
      this.requestTimeout(),
    );
  }

  /** Makes the matching sockets leave `rooms`; resolves once applied everywhere. */
  socketsLeave(rooms: string | readonly string[]): Promise<SelectionChange> {
    const list = asList(rooms);
    return changeSelection(
      this.publisher,
      (request) => ({ type: 'sockets-leave', select: this.selection(), rooms: list, request }),
      this.requestTimeout(),
    );
  }

  /** Disconnects the matching sockets (`close`: their connections too); resolves once applied everywhere. */
  disconnectSockets(close = false): Promise<SelectionChange> {
    return changeSelection(
      this.publisher,
      (request) => ({ type: 'sockets-disconnect', select: this.selection(), close, request }),
      this.requestTimeout(),
    );
  }

  private selection(): Selection {
    const select: Selection = {};
    if (this.rooms.length > 0) select.rooms = [...this.rooms];
    if (this.exceptRooms.length > 0) select.except = [...this.exceptRooms];
    return select;
  }

  private requestTimeout(): number {
    return this.timeoutMs ?? SELECTION_TIMEOUT_MS;
  }
}
