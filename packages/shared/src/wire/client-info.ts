import { WireError } from '../errors.js';
import { integer, isPlainObject, nonEmptyString, object, type Plain, string, stringArray } from './check.js';

/** What the io-node knew of the client's handshake. */
export interface HandshakeInfo {
  /** Remote address as the io-node saw it. */
  address: string;
  /** Handshake time, ms since epoch. */
  time: number;
  /** Query string of the handshake. */
  query: Record<string, string | string[] | undefined>;
  /** The `auth` object the client sent. */
  auth: Record<string, unknown>;
}

/**
 * A client as an app-node sees it, so any app-node can serve any client. The io-node holding the socket
 * is the source of truth; app-nodes change it by command. An ingress batch carries it inline when the
 * app-nodes may not have it (its first batch after a change), else names it with a {@link ClientRef}.
 */
export interface ClientInfo {
  /** Socket id. */
  id: string;
  /**
   * Version of this state on its io-node: 1 when the client connects, one more each time what an app-node
   * sees of it changes (rooms, data, user). Absent from io-nodes that always send the state inline.
   */
  v?: number;
  /** Id of the io-node that holds the connection. */
  nodeId: string;
  /** Connection-scoped data, merged by `set-data` commands. */
  data: Record<string, unknown>;
  /** Rooms the socket is in, without its own id. */
  rooms: string[];
  handshake: HandshakeInfo;
  /** What the io-node's `authenticate` hook returned, or null for anonymous clients. */
  user: unknown;
  /**
   * The client's recovery session (`@iocluster/client` only): keys the answers kept for its resent
   * events. A secret of that client; never shown to application code.
   */
  session?: string;
  /**
   * For a client recovered on this node: the socket id of its session's first connection. Anonymous
   * presence members are keyed by it, so a recovered client stays the same member.
   */
  origin?: string;
}

/**
 * A client named by its state's version instead of carried whole: the app-node takes that state (or a
 * newer one) from its cache, or reads it from where the io-node stored it.
 */
export interface ClientRef {
  /** Socket id. */
  id: string;
  /** The version of the client's state the batch was sent with (see {@link ClientInfo.v}). */
  v: number;
}

/** Whether a batch's client is named by a version rather than carried whole. */
export function isClientRef(client: ClientInfo | ClientRef): client is ClientRef {
  return !('handshake' in client);
}

/** Validates a batch's client: a whole {@link ClientInfo}, or a {@link ClientRef} (no `handshake`). */
export function decodeBatchClient(value: unknown, path: string): ClientInfo | ClientRef {
  const v = object(value, path);
  if (v.handshake !== undefined) return decodeClientInfo(v, path);
  return { id: nonEmptyString(v.id, `${path}.id`), v: positive(v.v, `${path}.v`) };
}

function positive(value: unknown, path: string): number {
  const n = integer(value, path);
  if (n === 0) throw new WireError(`${path} must be a positive integer`);
  return n;
}

/** Validates a ClientInfo received from another node. */
export function decodeClientInfo(value: unknown, path = 'client'): ClientInfo {
  const v = object(value, path);
  const handshake = object(v.handshake, `${path}.handshake`);
  if (!isPlainObject(v.data)) throw new WireError(`${path}.data must be an object`);
  return {
    id: nonEmptyString(v.id, `${path}.id`),
    ...(v.v === undefined ? {} : { v: positive(v.v, `${path}.v`) }),
    nodeId: nonEmptyString(v.nodeId, `${path}.nodeId`),
    data: v.data,
    rooms: stringArray(v.rooms, `${path}.rooms`),
    handshake: {
      address: string(handshake.address, `${path}.handshake.address`),
      time: integer(handshake.time, `${path}.handshake.time`),
      query: object(handshake.query, `${path}.handshake.query`) as HandshakeInfo['query'],
      auth: object(handshake.auth, `${path}.handshake.auth`) as Plain,
    },
    user: v.user === undefined ? null : v.user,
    ...(v.session === undefined ? {} : { session: nonEmptyString(v.session, `${path}.session`, 128) }),
    ...(v.origin === undefined ? {} : { origin: nonEmptyString(v.origin, `${path}.origin`) }),
  };
}
