import {
  type Command,
  encodeCommandEnvelope,
  type Keys,
  type Logger,
  type RedisConnection,
} from '@iocluster/shared';

/**
 * Sending side of the command bus. `publish` only buffers; everything buffered in one turn of the
 * event loop goes out in one pipeline, consecutive commands for the same channel in one message, in
 * the order they were published (so a join stays ahead of the emit that follows it).
 */
export interface CommandPublisher {
  /** Queues a command for one io-node's channel (`nodeId`) or for all io-nodes (`null`). */
  publish(nodeId: string | null, cmd: Command): void;
  /** Resolves once everything published so far is in Redis; rejects if Redis refused it. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createCommandPublisher(
  connection: RedisConnection,
  keys: Keys,
  logger: Logger,
): CommandPublisher {
  let channels: string[] = [];
  let cmds: Command[] = [];
  let pending: Promise<void> | undefined;
  let resolvePending: (() => void) | undefined;
  let rejectPending: ((err: unknown) => void) | undefined;
  const inFlight = new Set<Promise<void>>();

  function send(): void {
    const batchChannels = channels;
    const batchCmds = cmds;
    const resolve = resolvePending!;
    const reject = rejectPending!;
    channels = [];
    cmds = [];
    pending = undefined;
    const pipeline = connection.pipeline();
    let messages = 0;
    for (let start = 0; start < batchCmds.length; ) {
      let end = start + 1;
      while (end < batchCmds.length && batchChannels[end] === batchChannels[start]) end++;
      pipeline.publish(batchChannels[start]!, encodeCommandEnvelope(batchCmds.slice(start, end)));
      messages++;
      start = end;
    }
    const done = pipeline.exec().then((results) => {
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('command pipeline was discarded');
    });
    inFlight.add(done);
    done.then(resolve, (err: unknown) => {
      logger.error({ err, commands: batchCmds.length, messages }, 'publishing commands failed');
      reject(err);
    });
    void done.catch(() => undefined).finally(() => inFlight.delete(done));
  }

  return {
    publish(nodeId, cmd) {
      channels.push(nodeId === null ? keys.broadcastChannel : keys.nodeChannel(nodeId));
      cmds.push(cmd);
      if (!pending) {
        pending = new Promise<void>((resolve, reject) => {
          resolvePending = resolve;
          rejectPending = reject;
        });
        // Callers that never await the flush must not see an unhandled rejection; flush() still rejects.
        pending.catch(() => undefined);
        setImmediate(send);
      }
    },
    async flush() {
      await Promise.all([pending, ...inFlight]);
    },
    async close() {
      await Promise.allSettled([pending, ...inFlight]);
    },
  };
}
