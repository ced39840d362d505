import type {
  DefaultEventsMap,
  EventNames,
  HandlerArgs,
  HandlerResult,
  IsTypedMap,
  OccupancyChange,
  PresenceChange,
} from '@iocluster/shared';
import type { AppSocket } from './app-socket.js';

/**
 * Lifecycle events an app-node raises besides client events: reserved names, typed apart from the
 * client's events whether or not event maps are given.
 */
export interface LifecycleHandlers<
  ServerEvents extends object = DefaultEventsMap,
  SocketData extends object = Record<string, unknown>,
  User = unknown,
> {
  /** A client connected (to any io-node). */
  connection: (socket: AppSocket<ServerEvents, SocketData, User>) => unknown;
  /** This app-node meets a client whose `connection` it did not run: restore application context. */
  'no-client': (socket: AppSocket<ServerEvents, SocketData, User>) => unknown;
  /** A client disconnected; `reason` is Socket.IO's. */
  disconnect: (socket: AppSocket<ServerEvents, SocketData, User>, reason: string) => unknown;
  /**
   * A presence member's first connection joined a room, or its last one left (docs/presence.md). Any
   * number of these hooks may be registered.
   */
  presence: (change: PresenceChange) => unknown;
  /**
   * A room counted by the io-nodes' `OCCUPANCY_ROOMS` got its first member anywhere in the cluster: runs
   * once per change, on one app-node (docs/occupancy.md). Any number of these handlers may be registered.
   */
  'room:occupied': (room: string, change: OccupancyChange) => unknown;
  /** Such a room lost its last member (or the io-node holding the last ones died). */
  'room:vacated': (room: string, change: OccupancyChange) => unknown;
}

/** Names of the lifecycle events (`connection`, `disconnect`, `no-client`, `presence`, `room:*`). */
export type LifecycleEventName = keyof LifecycleHandlers;

/**
 * The handler of client event `E` of map `ClientEvents`: it receives the event's arguments (without the
 * ack callback) and, for an acknowledged event, returns the ack's answer.
 */
export type ClientEventHandler<
  ClientEvents extends object,
  E extends EventNames<ClientEvents>,
  ServerEvents extends object = DefaultEventsMap,
  SocketData extends object = Record<string, unknown>,
  User = unknown,
> = (
  socket: AppSocket<ServerEvents, SocketData, User>,
  ...args: HandlerArgs<ClientEvents, E>
) => HandlerResult<ClientEvents, E>;

/** `app.on` for the lifecycle events, with or without maps: registers a handler, returns its remover. */
export type LifecycleOn<ServerEvents extends object, SocketData extends object, User> = <
  K extends LifecycleEventName,
>(
  event: K,
  handler: LifecycleHandlers<ServerEvents, SocketData, User>[K],
) => () => void;

/** Turns a union of call signatures into their intersection: one overload each. */
type Overloads<U> = (U extends unknown ? (signature: U) => void : never) extends (signature: infer I) => void
  ? I
  : never;

/**
 * `app.on` with a client event map: only the map's events and the lifecycle events compile. One overload
 * per event rather than one generic signature, so that a handler's answer is checked against that event's
 * ack with its literal types (`{ ok: true }`) intact.
 */
export type TypedOn<
  ClientEvents extends object,
  ServerEvents extends object,
  SocketData extends object,
  User,
> = LifecycleOn<ServerEvents, SocketData, User> &
  Overloads<
    {
      [E in Exclude<EventNames<ClientEvents>, LifecycleEventName>]: (
        event: E,
        handler: ClientEventHandler<ClientEvents, E, ServerEvents, SocketData, User>,
      ) => () => void;
    }[Exclude<EventNames<ClientEvents>, LifecycleEventName>]
  >;

/** `app.on` without a client event map: any event name, arguments typed by the handler itself. */
export interface LooseOn<ServerEvents extends object, SocketData extends object, User> {
  /** Registers the handler of a lifecycle event (tried first, so its parameters are typed); returns a remover. */
  <K extends LifecycleEventName>(
    event: K,
    handler: LifecycleHandlers<ServerEvents, SocketData, User>[K],
  ): () => void;
  /** Registers the one handler of a client event; its return value answers the client's ack. */
  <A extends unknown[]>(
    event: string,
    handler: (socket: AppSocket<ServerEvents, SocketData, User>, ...args: A) => unknown,
  ): () => void;
}

/** `app.on`: strict with a client event map, as loose as Socket.IO's untyped server without one. */
export type OnMethod<
  ClientEvents extends object,
  ServerEvents extends object,
  SocketData extends object,
  User,
> =
  IsTypedMap<ClientEvents> extends true
    ? TypedOn<ClientEvents, ServerEvents, SocketData, User>
    : LooseOn<ServerEvents, SocketData, User>;
