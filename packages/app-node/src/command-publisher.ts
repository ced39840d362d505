import {
  type Command,
  type Deferred,
  deferred,
  encodeCommandEnvelope,
  type Keys,
  type Logger,
  type RedisConnection,
  type ReplyCommand,
} from '@iocluster/shared';

/**
 * Sending side of the command bus. `publish` only buffers; everything buffered in one turn of the event
 * loop goes out in one pipeline (one write): consecutive commands for the same channel in one message, in
 * the order they were published, so a join stays ahead of the emit that follows it.
 *
 * Replies go last, one message per io-node, appended to that node's last message when it is the last one
 * anyway: a reply only has to follow the commands of its own event (it releases the client's next
 * events), and sending it later is always safe. Interleaved with room emits they would otherwise cost
 * one message each.
 */
export interface CommandPublisher {
  /** Queues a command for one io-node's channel (`nodeId`) or for all io-nodes (`null`). */
  publish(nodeId: string | null, cmd: Command): void;
  /** Queues the reply to a client event, for the io-node holding the client. */
  reply(nodeId: string, cmd: ReplyCommand): void;
  /** Resolves once everything published so far is in Redis; rejects if Redis refused it. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Outgoing {
  channels: string[];
  cmds: Command[];
  replies: Map<string, ReplyCommand[]>;
  /** Settles once this buffer is in Redis; callers that never await it see no unhandled rejection. */
  sent: Deferred<void>;
}

export function createCommandPublisher(
  connection: RedisConnection,
  keys: Keys,
  logger: Logger,
): CommandPublisher {
  let next: Outgoing | undefined;
  const inFlight = new Set<Promise<void>>();

  function buffer(): Outgoing {
    if (next) return next;
    next = { channels: [], cmds: [], replies: new Map(), sent: deferred() };
    setImmediate(send);
    return next;
  }

  function send(): void {
    const out = next!;
    next = undefined;
    const messages: [channel: string, cmds: Command[]][] = [];
    for (let i = 0; i < out.cmds.length; i++) {
      const channel = out.channels[i]!;
      const last = messages[messages.length - 1];
      if (last?.[0] === channel) last[1].push(out.cmds[i]!);
      else messages.push([channel, [out.cmds[i]!]]);
    }
    for (const [nodeId, replies] of out.replies) {
      const channel = keys.nodeChannel(nodeId);
      const last = messages[messages.length - 1];
      if (last?.[0] === channel) last[1].push(...replies);
      else messages.push([channel, replies]);
    }
    const pipeline = connection.pipeline();
    for (const [channel, cmds] of messages) pipeline.publish(channel, encodeCommandEnvelope(cmds));
    const done = pipeline.exec().then((results) => {
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('command pipeline was discarded');
    });
    inFlight.add(done);
    done.then(
      () => out.sent.resolve(),
      (err: unknown) => {
        logger.error({ err, messages: messages.length }, 'publishing commands failed');
        out.sent.reject(err);
      },
    );
    void done.catch(() => undefined).finally(() => inFlight.delete(done));
  }

  return {
    publish(nodeId, cmd) {
      const out = buffer();
      out.channels.push(nodeId === null ? keys.broadcastChannel : keys.nodeChannel(nodeId));
      out.cmds.push(cmd);
    },
    reply(nodeId, cmd) {
      const { replies } = buffer();
      const list = replies.get(nodeId);
      if (list) list.push(cmd);
      else replies.set(nodeId, [cmd]);
    },
    async flush() {
      await Promise.all([next?.sent.promise, ...inFlight]);
    },
    async close() {
      await Promise.allSettled([next?.sent.promise, ...inFlight]);
    },
  };
}
