import type { Keys } from './keys.js';
import type { Logger } from './logger.js';
import { createRedis, type RedisConnection, type RedisTarget } from './redis.js';
import { createRedisCommandTransport, type RedisCommandTransportOptions } from './redis-command-transport.js';
import { createRequester, type Requester, replyAddress } from './requests.js';
import type { CommandTransport } from './transport/commands.js';
import { createRedisReplyInbox } from './transport/redis-replies.js';
import type { ReplyInbox } from './transport/replies.js';

/** What a process that sends commands to io-nodes and asks them questions (an app-node, an emitter) holds. */
export interface CommandSender {
  transport: CommandTransport;
  requester: Requester;
  /** The connection the answers come on, when this made the reply inbox; the owner opens and closes it. */
  replySubscriber: RedisConnection | undefined;
}

/**
 * The command transport in Redis on `connection` (unless `commands` is given) and a requester whose
 * answers come on a pub/sub subscriber of its own, at an address made from `name` (unless `replies` is
 * given). The caller starts and closes the requester, and closes `replySubscriber`.
 */
export function createCommandSender(options: {
  redis: RedisTarget | string;
  connection: RedisConnection;
  keys: Keys;
  logger: Logger;
  /** Names the reply address and the subscriber's connection (`<name>:replies`). */
  name: string;
  transport: RedisCommandTransportOptions;
  commands?: CommandTransport;
  replies?: ReplyInbox;
}): CommandSender {
  const { keys, logger, name } = options;
  const transport =
    options.commands ?? createRedisCommandTransport(options.connection, keys, options.transport);
  const replySubscriber = options.replies
    ? undefined
    : createRedis(options.redis, 'subscriber', { logger, connectionName: `${name}:replies`, lazy: true });
  const replies =
    options.replies ??
    createRedisReplyInbox({ subscriber: replySubscriber!, keys, address: replyAddress(name), logger });
  return { transport, requester: createRequester(replies), replySubscriber };
}
