import {
  CHANNEL_MESSAGE_EVENT,
  channelRoom,
  decodeChannelRequest,
  IoclusterError,
  PUBLISH_EVENT,
  SUBSCRIBE_EVENT,
  UNSUBSCRIBE_EVENT,
  WireError,
} from '@iocluster/shared';
import type { AppSocket } from './app-socket.js';
import type { EventHandler } from './job-processor.js';

/**
 * Decides a client's subscription: return `true` (or nothing) to allow, `false` to refuse with FORBIDDEN,
 * or throw an error with a `code` to refuse with it. May be async.
 */
export type SubscribeAuthorizer = (socket: AppSocket, channel: string) => unknown;

/**
 * Decides a client's publication: like {@link SubscribeAuthorizer}, and may return `{ data }` to publish
 * that instead of what the client sent (the next authorizer sees the rewritten data).
 */
export type PublishAuthorizer = (socket: AppSocket, channel: string, data: unknown) => unknown;

/** What happens when no authorizer is registered. */
export interface ChannelDefaults {
  /** @defaultValue 'allow' */
  subscribe?: 'allow' | 'deny';
  /** @defaultValue 'deny' (FORBIDDEN): publishing needs an authorizer or this set to 'allow' */
  publish?: 'allow' | 'deny';
}

/** What the channels need of the app-node: a room emit through the public API. */
export interface ChannelDeps {
  defaults: Required<ChannelDefaults>;
  /** `app.to(room).emit(event, payload)`. */
  emitToRoom: (room: string, event: string, payload: unknown) => void;
}

/** Client channels: the handlers of the reserved channel events and the authorizer chains. */
export interface Channels {
  /** Handlers of `$subscribe`, `$unsubscribe` and `$publish`, by event name. */
  readonly handlers: ReadonlyMap<string, EventHandler>;
  authorizeSubscribe(fn: SubscribeAuthorizer): () => void;
  authorizePublish(fn: PublishAuthorizer): () => void;
}

const OK = Object.freeze({ ok: true as const });

/**
 * Client channels in SocketCluster's model, built on rooms: a channel `news` is the room `$ch:news`
 * (server code's rooms never start with `$`, so the two cannot meet). Subscribing joins that room after
 * the authorizers allowed it; publishing emits `$message` `{ channel, data }` to it. The events travel
 * the ingress queue like any other, so a client's subscribe, publish and other events keep their order
 * and are handled at least once (a repeated subscribe or publish is harmless / a duplicate message).
 */
export function createChannels(deps: ChannelDeps): Channels {
  const subscribeChain: SubscribeAuthorizer[] = [];
  const publishChain: PublishAuthorizer[] = [];

  function add<T>(chain: T[], fn: T, name: string): () => void {
    if (typeof fn !== 'function') throw new TypeError(`app.${name}(): authorizer must be a function`);
    chain.push(fn);
    return () => {
      const index = chain.indexOf(fn);
      if (index >= 0) chain.splice(index, 1);
    };
  }

  function request(event: string, args: unknown[]) {
    try {
      return decodeChannelRequest(event, args);
    } catch (err) {
      throw new IoclusterError('INVALID_EVENT', err instanceof WireError ? err.message : String(err));
    }
  }

  function forbidden(action: string, channel: string): IoclusterError {
    return new IoclusterError('FORBIDDEN', `${action} "${channel}" is not allowed`);
  }

  const subscribe: EventHandler = async (socket, ...args) => {
    const { channel } = request(SUBSCRIBE_EVENT, args);
    if (subscribeChain.length === 0 && deps.defaults.subscribe === 'deny')
      throw forbidden('subscribing to', channel);
    for (const authorize of [...subscribeChain]) {
      if ((await authorize(socket, channel)) === false) throw forbidden('subscribing to', channel);
    }
    await socket.join(channelRoom(channel));
    return OK;
  };

  const unsubscribe: EventHandler = async (socket, ...args) => {
    const { channel } = request(UNSUBSCRIBE_EVENT, args);
    await socket.leave(channelRoom(channel));
    return OK;
  };

  const publish: EventHandler = async (socket, ...args) => {
    const { channel, data: sent } = request(PUBLISH_EVENT, args);
    if (publishChain.length === 0 && deps.defaults.publish === 'deny')
      throw forbidden('publishing on', channel);
    let data = sent;
    for (const authorize of [...publishChain]) {
      const verdict = await authorize(socket, channel, data);
      if (verdict === false) throw forbidden('publishing on', channel);
      if (verdict !== null && typeof verdict === 'object' && 'data' in verdict) data = verdict.data;
    }
    deps.emitToRoom(channelRoom(channel), CHANNEL_MESSAGE_EVENT, { channel, data });
    return OK;
  };

  return {
    handlers: new Map([
      [SUBSCRIBE_EVENT, subscribe],
      [UNSUBSCRIBE_EVENT, unsubscribe],
      [PUBLISH_EVENT, publish],
    ]),
    authorizeSubscribe: (fn) => add(subscribeChain, fn, 'authorizeSubscribe'),
    authorizePublish: (fn) => add(publishChain, fn, 'authorizePublish'),
  };
}
