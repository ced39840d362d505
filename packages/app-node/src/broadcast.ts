import type { CommandPublisher } from '@iocluster/shared';
import {
  type BroadcastAcks,
  broadcastWithAck,
  changeSelection,
  type DefaultEventsMap,
  type EmitCommand,
  type EventNames,
  type EventParams,
  encodeArgs,
  fetchDescriptions,
  type OperatorTarget,
  type ParamsBeforeAck,
  type SelectionChange,
  TargetOperator,
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
> extends TargetOperator<BroadcastOperator<ServerEvents, SocketData, User>> {
  constructor(
    private readonly publisher: CommandPublisher,
    target?: OperatorTarget,
  ) {
    super(target);
  }

  protected derive(target: OperatorTarget): BroadcastOperator<ServerEvents, SocketData, User> {
    return new BroadcastOperator<ServerEvents, SocketData, User>(this.publisher, target);
  }

  /** Emits to every matching client on every io-node. */
  emit<E extends EventNames<ServerEvents>>(event: E, ...args: EventParams<ServerEvents, E>): true {
    const cmd: EmitCommand = { ...this.emitCommand(event), ...encodeArgs(args as unknown[]) };
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
    return broadcastWithAck(this.publisher, this.selection(), this.ackTimeout(), event, args);
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
}
