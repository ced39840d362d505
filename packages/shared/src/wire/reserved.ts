import { WireError } from '../errors.js';
import { string } from './check.js';
import { PRESENCE_REQUEST_EVENT } from './presence.js';

/**
 * Reserved events: names starting with `$` belong to iocluster. Plain Socket.IO clients use them as they
 * are (`socket.emit('$subscribe', 'news', ack)`); `docs/security.md` describes each one.
 */
export const RESERVED_PREFIX = '$';

/** Client → server: subscribe to a channel; args `[channel]`, ack `{ ok: true }` or `{ error }`. */
export const SUBSCRIBE_EVENT = '$subscribe';
/** Client → server: unsubscribe from a channel; args `[channel]`, ack `{ ok: true }`. */
export const UNSUBSCRIBE_EVENT = '$unsubscribe';
/** Client → server: publish on a channel; args `[channel, data]`, ack `{ ok: true }` or `{ error }`. */
export const PUBLISH_EVENT = '$publish';
/** Server → client: a message published on a subscribed channel, `{ channel, data }`. */
export const CHANNEL_MESSAGE_EVENT = '$message';
/** Server → client: the token expires soon, `{ exp, expiresInMs }` (exp in seconds since epoch). */
export const TOKEN_EXPIRING_EVENT = '$token:expiring';
/** Client → server: a fresh token, args `[token]`, ack `{ ok: true, exp }` or `{ error }`; handled by the io-node. */
export const TOKEN_REFRESH_EVENT = '$token:refresh';
/** Server → client: why the server is about to disconnect the client, `{ code, message }`. */
export const SERVER_ERROR_EVENT = '$error';
/**
 * Server → client, on connecting, to clients of `@iocluster/client`: the per-client rate limit,
 * `{ eventRate, eventBurst }` (events per second, and at once), which the client paces its emits to.
 */
export const LIMITS_EVENT = '$limits';

/** Reserved events a client may send that go to app-nodes, in order, like any other event. */
export const CHANNEL_EVENTS: ReadonlySet<string> = new Set([
  SUBSCRIBE_EVENT,
  UNSUBSCRIBE_EVENT,
  PUBLISH_EVENT,
]);

/** Client → server: read a room's history; args `[room, { since?, limit? }]`, ack the page or `{ error }`. */
export const HISTORY_EVENT = '$history';
/** Client → server: an event with an id (`@iocluster/client`), `(eid, resent, event, ...args)`. */
export const IDENTIFIED_EVENT = '$e';

/**
 * Reserved requests a client may send that go to app-nodes like events (their built-in handlers answer):
 * the channel events, `$history`, `$presence`.
 */
export const CLIENT_REQUEST_EVENTS: ReadonlySet<string> = new Set([
  ...CHANNEL_EVENTS,
  HISTORY_EVENT,
  PRESENCE_REQUEST_EVENT,
]);

/** Rooms of client channels: `$ch:<channel>`. Server code may use any room name not starting with `$`. */
export const CHANNEL_ROOM_PREFIX = '$ch:';

/** Longest channel name. */
export const MAX_CHANNEL_LENGTH = 200;

/** A client's channel request as it arrives in `$subscribe` / `$unsubscribe` / `$publish` arguments. */
export interface ChannelRequest {
  channel: string;
  /** What `$publish` carries (undefined for subscribe / unsubscribe). */
  data: unknown;
}

/** Validates the arguments of a channel event; throws {@link WireError} naming what is wrong. */
export function decodeChannelRequest(event: string, args: readonly unknown[]): ChannelRequest {
  if (!CHANNEL_EVENTS.has(event)) throw new WireError(`${event} is not a channel event`);
  const channel = string(args[0], `${event} channel`, MAX_CHANNEL_LENGTH);
  if (channel.length === 0) throw new WireError(`${event} channel must not be empty`);
  if (event !== PUBLISH_EVENT && args.length > 1) throw new WireError(`${event} takes one argument`);
  if (event === PUBLISH_EVENT && args.length !== 2) throw new WireError(`${event} takes a channel and data`);
  return { channel, data: args[1] };
}

/** The room a channel maps to. */
export function channelRoom(channel: string): string {
  return `${CHANNEL_ROOM_PREFIX}${channel}`;
}
