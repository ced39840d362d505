/**
 * Typed event maps in the style of Socket.IO's: an interface from event name to listener signature.
 * For events the server answers (acks), the last parameter is the ack callback, as with Socket.IO:
 * `'chat message': (msg: Message, ack: (result: Result) => void) => void`.
 */

import type { RecoveryReport } from '@iocluster/shared/protocol';
import type { ClientError } from './errors.js';

/** Names of the events of map `M`. */
export type EventNames<M> = keyof M & string;

/** The listener type of event `E`. */
export type Listener<M, E extends EventNames<M>> = M[E] extends (...args: never[]) => unknown
  ? M[E]
  : (...args: unknown[]) => void;

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

/** What the ack callback (the last parameter) receives first: the server's answer. */
export type AckResult<P extends unknown[]> = number extends P['length']
  ? unknown
  : P extends [...unknown[], infer Last]
    ? Last extends (result: infer R, ...rest: never[]) => unknown
      ? R
      : unknown
    : unknown;

/** Used when no map is given: any event name, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: never[]) => unknown;
}

/** Where the client is connected: an io-node's id and the URL its socket uses. */
export interface NodeTarget {
  readonly nodeId: string;
  readonly url: string;
}

/**
 * Why the client is trying (again): its node went away, a node refused it, the frontend failed, or its
 * token was refused and `getToken` gave another.
 */
export type ReconnectReason = 'disconnect' | 'connect_error' | 'discovery' | 'unauthorized';

/**
 * Events the client raises about itself. Their names are reserved: a server event with one of these
 * names cannot be listened to through the client (use `client.socket` for that).
 */
export interface ClientLifecycleEvents {
  /** Connected to an io-node (first time and after every reconnection). */
  connected: (nodeId: string, url: string) => void;
  /** About to try again: attempt number within the cycle, why, and the wait before it (ms). */
  reconnecting: (attempt: number, reason: ReconnectReason, delayMs: number) => void;
  /** Connected to a different io-node than the previous one. */
  'node-changed': (from: string, to: string) => void;
  /**
   * The connection to the current node dropped (not by `close()`); Socket.IO's reason, and the server's
   * code when it said why it disconnected the client (`TOKEN_EXPIRED`, `RATE_LIMITED`).
   */
  disconnected: (reason: string, code?: string) => void;
  /** A token refresh failed (getToken threw or the server refused the token); the server disconnects at expiry. */
  'token-refresh-failed': (error: Error) => void;
  /**
   * An io-node refused the connection's credentials: `error.code` is `UNAUTHORIZED` or `TOKEN_EXPIRED`.
   * Emits waiting or unanswered have been rejected with it. The client tries again only with a
   * different token from `getToken` (`retrying` true); with no `getToken`, or when it throws or gives the
   * refused token again, it stops (state `idle`) until `connect()` is called.
   */
  unauthorized: (error: ClientError, retrying: boolean) => void;
  /**
   * A cycle of `maxAttempts` attempts failed; the client waits `cyclePauseMs` and starts another,
   * or stops when `retryForever` is off.
   */
  unavailable: (error: Error) => void;
  /**
   * After a reconnection that tried to recover the session (with `recovery`): whether rooms, data and
   * every missed room message came back, how many were replayed (they were delivered just before), and
   * otherwise why not. With `recovered: false`, fetch what the application needs again.
   */
  recovered: (report: RecoveryReport) => void;
}

/** Names reserved for {@link ClientLifecycleEvents}. */
export const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set<keyof ClientLifecycleEvents>([
  'connected',
  'reconnecting',
  'node-changed',
  'disconnected',
  'token-refresh-failed',
  'unauthorized',
  'unavailable',
  'recovered',
]);
