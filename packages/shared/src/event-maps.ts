/**
 * Typed event maps in the style of Socket.IO's: an interface from event name to listener signature,
 * shared by the app-node (`AppNode<ClientEvents, ServerEvents, …>`) and the client
 * (`createClient<ServerEvents, ClientEvents>`). For an event the receiver acknowledges, the last
 * parameter is the ack callback, whose first parameter is the answer:
 *
 * ```ts
 * interface ClientEvents {
 *   'chat message': (msg: Message, ack: (result: { ok: true }) => void) => void;
 *   typing: (room: string) => void;
 * }
 * ```
 *
 * Without a map (the default, {@link DefaultEventsMap}) any event name and any arguments are accepted.
 */

/** Used when no map is given: any event name, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: never[]) => unknown;
}

/** Names of the events of map `M`. */
export type EventNames<M> = keyof M & string;

/** True when `M` names its events (a map was given), false for an index signature such as {@link DefaultEventsMap}. */
export type IsTypedMap<M> = string extends keyof M ? false : true;

/**
 * Parameters of event `E`. A map that does not pin the arguments down (an index signature of
 * `(...args: never[]) => ...`, say) accepts any arguments.
 */
export type EventParams<M, E extends EventNames<M>> = M[E] extends (...args: infer P) => unknown
  ? number extends P['length']
    ? unknown[]
    : P
  : unknown[];

/** The parameters before the ack callback. */
export type ParamsBeforeAck<P extends unknown[]> = number extends P['length']
  ? unknown[]
  : P extends [...infer Head, unknown]
    ? Head
    : never;

/** What the ack callback (the last parameter) receives first: the answer. */
export type AckResult<P extends unknown[]> = number extends P['length']
  ? unknown
  : P extends [...unknown[], infer Last]
    ? Last extends (result: infer R, ...rest: never[]) => unknown
      ? R
      : unknown
    : unknown;

/** Does event `E` of map `M` take an ack callback (its last parameter is a function)? */
export type HasAck<M, E extends EventNames<M>> =
  EventParams<M, E> extends [...unknown[], infer Last]
    ? Last extends (...args: never[]) => unknown
      ? true
      : false
    : false;

/** What a handler of event `E` receives after the socket: the event's parameters without the ack. */
export type HandlerArgs<M, E extends EventNames<M>> =
  HasAck<M, E> extends true ? ParamsBeforeAck<EventParams<M, E>> : EventParams<M, E>;

/**
 * What a handler of event `E` may return: the ack's answer (or a promise of it) when the event is
 * acknowledged; anything otherwise (nobody waits for it).
 */
export type HandlerResult<M, E extends EventNames<M>> =
  HasAck<M, E> extends true ? AckResult<EventParams<M, E>> | Promise<AckResult<EventParams<M, E>>> : unknown;
