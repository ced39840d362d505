import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import type { RedisConnection } from '../redis.js';
import { decodeNodeReply, encodeNodeReply, type NodeReply } from '../wire/replies.js';
import type { ReplyInbox, ReplySender } from './replies.js';

/**
 * A requester's reply inbox through Redis pub/sub: the channel `keys.replies(address)`, subscribed on a
 * connection of its own (`subscriber` role; closed by the caller). Pub/sub keeps nothing: a reply sent
 * while the connection is down is lost, and the request it answers ends at its timeout, naming the
 * io-node that did not answer.
 */
export function createRedisReplyInbox(options: {
  subscriber: RedisConnection;
  keys: Keys;
  address: string;
  logger: Logger;
}): ReplyInbox {
  const { subscriber, keys, address, logger } = options;
  const channel = keys.replies(address);
  const handlers = new Set<(reply: NodeReply) => void>();
  let started = false;
  let closed = false;
  const onMessage = (from: string, raw: string) => {
    if (from !== channel) return;
    let reply: NodeReply;
    try {
      reply = decodeNodeReply(raw);
    } catch (err) {
      logger.warn({ err, bytes: raw.length }, 'malformed reply dropped');
      return;
    }
    for (const handler of handlers) handler(reply);
  };
  return {
    address,
    async start() {
      if (started) return;
      started = true;
      subscriber.on('message', onMessage);
      await subscriber.subscribe(channel);
    },
    onReply(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    async close() {
      if (closed) return;
      closed = true;
      handlers.clear();
      subscriber.off('message', onMessage);
      if (started && subscriber.status === 'ready')
        await subscriber.unsubscribe(channel).catch(() => undefined);
    },
  };
}

/** Sends io-node `nodeId`'s replies with PUBLISH on `connection` (not a subscriber connection). */
export function createRedisReplySender(connection: RedisConnection, keys: Keys, nodeId: string): ReplySender {
  return {
    async send(replyTo, id, result) {
      await connection.publish(keys.replies(replyTo), encodeNodeReply(id, nodeId, result));
    },
  };
}
