/**
 * The client protocol: every reserved event (names starting with `$` belong to iocluster) and the
 * payload each carries, in one module that imports nothing, so io-nodes, app-nodes and
 * `@iocluster/client` (in a browser too) share it through `@iocluster/shared/protocol`. Plain
 * Socket.IO clients use the events as they are (`socket.emit('$subscribe', 'news', ack)`);
 * docs/security.md and docs/recovery.md describe each one.
 */

export const RESERVED_PREFIX = '$';

/** Client → server: subscribe to a channel; args `[channel]`, ack `{ ok: true }` or `{ error }`. */
export const SUBSCRIBE_EVENT = '$subscribe';
/** Client → server: unsubscribe from a channel; args `[channel]`, ack `{ ok: true }`. */
export const UNSUBSCRIBE_EVENT = '$unsubscribe';
/** Client → server: publish on a channel; args `[channel, data]`, ack `{ ok: true }` or `{ error }`. */
export const PUBLISH_EVENT = '$publish';
/** Server → client: a message published on a subscribed channel, a {@link ChannelMessage}. */
export const CHANNEL_MESSAGE_EVENT = '$message';
/** Server → client: the token expires soon, a {@link TokenExpiring}. */
export const TOKEN_EXPIRING_EVENT = '$token:expiring';
/** Client → server: a fresh token, args `[token]`, ack a {@link TokenRefreshAnswer}; handled by the io-node. */
export const TOKEN_REFRESH_EVENT = '$token:refresh';
/** Server → client: why the server is about to disconnect the client, a {@link ServerError}. */
export const SERVER_ERROR_EVENT = '$error';
/**
 * Server → client, on connecting, to clients of `@iocluster/client`: the per-client rate limit, a
 * {@link ClientLimits}, which the client paces its emits to.
 */
export const LIMITS_EVENT = '$limits';
/** Client → server: read a room's history; args `[room, { since?, limit? }]`, ack the page or `{ error }`. */
export const HISTORY_EVENT = '$history';
/** Client → server: read a room's roster, args `[room]`, when the application allows it. */
export const PRESENCE_REQUEST_EVENT = '$presence';
/** Client → server: an event with an id (`@iocluster/client`), args `(eid, resent, event, ...args)`. */
export const IDENTIFIED_EVENT = '$e';
/** Server → client: the recovery session this connection belongs to, args `[sessionId]`. */
export const SESSION_EVENT = '$session';
/** Server → client: what a reconnection recovered, a {@link RecoveryReport}. */
export const RECOVERED_EVENT = '$recovered';
/** Server → client: a room message with its history position, args `(room, epoch, offset, event, ...args)`. */
export const POSITIONED_EVENT = '$h';
/** Server → client: a room's history moved on without a message for this client, args `(room, epoch, offset)`. */
export const POSITION_EVENT = '$pos';

/** Rooms of client channels: `$ch:<channel>`. Server code may use any room name not starting with `$`. */
export const CHANNEL_ROOM_PREFIX = '$ch:';

/**
 * Rooms of users: `$user:<id>`. Every connection whose user has an id (its `authenticate` result's `id`
 * or `sub`, see `userIdOf`) is in its user's room on its io-node from the moment it connects, so
 * `app.toUser(id)` reaches every connection of that user on every io-node.
 */
export const USER_ROOM_PREFIX = '$user:';

/** The reserved room every connection of user `id` is in. */
export function userRoom(id: string): string {
  return `${USER_ROOM_PREFIX}${id}`;
}

/**
 * Not an event: the key that tags a binary value (`{ "$iocb": base64 }`) inside the JSON that carries
 * client arguments between nodes. Reserved with the same prefix, so no client object can be taken for it.
 */
export const BINARY_TAG = '$iocb';

/** Payload of {@link LIMITS_EVENT}. */
export interface ClientLimits {
  /** Events per second the io-node accepts from this client. */
  eventRate: number;
  /** Events it accepts at once (the bucket's size). */
  eventBurst: number;
}

/** Payload of {@link TOKEN_EXPIRING_EVENT}. */
export interface TokenExpiring {
  /** The token's `exp`, in seconds since the epoch. */
  exp: number;
  /** How long until then, ms. */
  expiresInMs: number;
}

/** Answer to {@link TOKEN_REFRESH_EVENT}. */
export type TokenRefreshAnswer = { ok: true; exp?: number } | { error: { code: string; message: string } };

/** Payload of {@link SERVER_ERROR_EVENT}, and the `error` of a refused ack. */
export interface ServerError {
  /** Stable code: `UNAUTHORIZED`, `TOKEN_EXPIRED`, `RATE_LIMITED`, `PAYLOAD_TOO_LARGE`, ... */
  code: string;
  message: string;
}

/** Payload of {@link CHANNEL_MESSAGE_EVENT}. */
export interface ChannelMessage {
  channel: string;
  data: unknown;
}

/** Payload of {@link RECOVERED_EVENT}: what the cluster said after a reconnection that tried to recover. */
export interface RecoveryReport {
  /** Rooms, data and every missed room message are back. */
  recovered: boolean;
  /** Rooms the client is in again. */
  rooms: string[];
  /** Room messages replayed. */
  missed: number;
  /** Why not: `expired` (past the window), `user-changed`, `history-lost` (trimmed, or another epoch). */
  reason?: string;
}

/** What `@iocluster/client` sends in the handshake's `auth.iocluster` to be recovered. */
export interface RecoveryHandshake {
  v: 1;
  session?: string;
  /** `[room, epoch, offset]`: the last history position seen in each room. */
  positions: [room: string, epoch: string, offset: number][];
}
