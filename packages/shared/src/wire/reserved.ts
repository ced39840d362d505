import { WireError } from '../errors.js';
import {
  CHANNEL_ROOM_PREFIX,
  HISTORY_EVENT,
  PRESENCE_REQUEST_EVENT,
  PUBLISH_EVENT,
  SUBSCRIBE_EVENT,
  UNSUBSCRIBE_EVENT,
} from '../protocol.js';
import { string } from './check.js';

/** Reserved events a client may send that go to app-nodes, in order, like any other event. */
export const CHANNEL_EVENTS: ReadonlySet<string> = new Set([
  SUBSCRIBE_EVENT,
  UNSUBSCRIBE_EVENT,
  PUBLISH_EVENT,
]);

/**
 * Reserved requests a client may send that go to app-nodes like events (their built-in handlers answer):
 * the channel events, `$history`, `$presence`.
 */
export const CLIENT_REQUEST_EVENTS: ReadonlySet<string> = new Set([
  ...CHANNEL_EVENTS,
  HISTORY_EVENT,
  PRESENCE_REQUEST_EVENT,
]);

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
