import { type Command, decodeCommandEnvelope, type Logger, type RedisConnection } from '@iocluster/shared';

/**
 * Receiving side of the command bus. Implementations deliver every command of every subscribed channel
 * to the handlers in the order the commands were published (across channels, too: that is what makes a
 * `join` published before an `emit` apply first). They drop malformed commands with a log line and
 * never throw into the caller. They do not persist anything: a command published while the subscriber is
 * disconnected is not delivered.
 */
export interface CommandSubscriber {
  start(): Promise<void>;
  onCommand(handler: (cmd: Command) => void): () => void;
  close(): Promise<void>;
}

/** Redis pub/sub: every channel on ONE connection, so Redis hands messages over in publish order. */
export function createRedisCommandSubscriber(
  connection: RedisConnection,
  channels: readonly string[],
  logger: Logger,
): CommandSubscriber {
  const handlers = new Set<(cmd: Command) => void>();

  const onMessage = (channel: string, raw: string) => {
    const { cmds, errors } = decodeCommandEnvelope(raw);
    for (const err of errors) logger.warn({ err, channel, bytes: raw.length }, 'malformed command dropped');
    for (const cmd of cmds) {
      for (const handler of handlers) {
        try {
          handler(cmd);
        } catch (err) {
          logger.error({ err, channel, type: cmd.type }, 'command handler failed');
        }
      }
    }
  };

  return {
    async start() {
      connection.on('message', onMessage);
      await connection.subscribe(...channels);
    },
    onCommand(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    async close() {
      connection.off('message', onMessage);
      handlers.clear();
      if (connection.status === 'ready') await connection.unsubscribe(...channels).catch(() => undefined);
    },
  };
}
