import { type Command, decodeCommandEnvelope, type Logger, type RedisConnection } from '@iocluster/shared';

/**
 * Receiving side of the command bus. Implementations deliver every command of every subscribed channel
 * to the handlers in the order the commands were published (across channels, too: that is what makes a
 * `join` published before an `emit` apply first). They drop malformed commands with a log line and
 * never throw into the caller. They do not persist anything: a command published while the subscriber is
 * disconnected is not delivered, which is why they report when they are (and stop being) subscribed.
 */
export interface CommandSubscriber {
  /** Subscribes; resolves once the transport confirmed it. */
  start(): Promise<void>;
  onCommand(handler: (cmd: Command) => void): () => void;
  /**
   * `false` when the connection drops, `true` once the subscription is confirmed again after a
   * reconnect: commands published in between are lost, so producers of work that will be answered by
   * commands should hold back meanwhile.
   */
  onSubscribed(handler: (subscribed: boolean) => void): () => void;
  close(): Promise<void>;
}

/** Redis pub/sub: every channel on ONE connection, so Redis hands messages over in publish order. */
export function createRedisCommandSubscriber(
  connection: RedisConnection,
  channels: readonly string[],
  logger: Logger,
): CommandSubscriber {
  const handlers = new Set<(cmd: Command) => void>();
  const stateHandlers = new Set<(subscribed: boolean) => void>();
  let subscribed = false;
  let closed = false;

  const setSubscribed = (value: boolean) => {
    if (value === subscribed) return;
    subscribed = value;
    for (const handler of stateHandlers) handler(value);
  };
  const onClose = () => setSubscribed(false);
  // ioredis reports `ready` before it re-sends SUBSCRIBE, and each connection reconnects on its own
  // backoff: only our own SUBSCRIBE's reply proves that commands reach this node again.
  const onReady = () => {
    if (closed || subscribed) return;
    connection.subscribe(...channels).then(
      () => {
        if (!closed) {
          logger.info('command channels subscribed again');
          setSubscribed(true);
        }
      },
      (err: unknown) =>
        logger.warn({ err }, 're-subscribing to command channels failed; waiting for the next reconnect'),
    );
  };

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
      connection.on('close', onClose);
      connection.on('ready', onReady);
      await connection.subscribe(...channels);
      setSubscribed(true);
    },
    onCommand(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    onSubscribed(handler) {
      stateHandlers.add(handler);
      return () => stateHandlers.delete(handler);
    },
    async close() {
      closed = true;
      connection.off('message', onMessage);
      connection.off('close', onClose);
      connection.off('ready', onReady);
      handlers.clear();
      stateHandlers.clear();
      if (connection.status === 'ready') await connection.unsubscribe(...channels).catch(() => undefined);
    },
  };
}
