import {
  lookupsOf,
  needsNoSteps,
  planAppends,
  requestTargets,
  roomsOfGone,
  routedOf,
  splitForHistory,
} from './command-plan.js';
import { IoclusterError } from './errors.js';
import type { HistoryLimits } from './history.js';
import { type Deferred, deferred } from './lifecycle.js';
import type { Logger } from './logger.js';
import type { PendingRequest, Requester, RequestOutcome } from './requests.js';
import type { CommandTransport, KeptAnswer } from './transport/commands.js';
import type { IngressAcknowledgement } from './transport/ingress.js';
import type { Command, EmitCommand, JoinCommand, ReplyCommand, RequestRef } from './wire/commands.js';
import { requestOf } from './wire/commands.js';

/**
 * Sending side of the command bus: appends commands to the inboxes of the io-nodes that must apply them,
 * through a {@link CommandTransport}. `publish` only buffers; what was buffered while the previous
 * delivery ran goes out together, one inbox entry per io-node, holding that node's commands in the order
 * they were published and the replies last (a reply only has to follow the commands of its own event).
 *
 * A delivery has up to two steps: first the routing table (joins counted, rooms and live nodes looked
 * up), then the inbox appends; which io-node gets which command is decided by the planner
 * (command-plan.ts). Deliveries run one after another, so one app-node's commands reach each inbox in
 * publish order, and a join is counted before any emit published after it looks its room up.
 */
export interface CommandPublisher {
  /**
   * Queues a command for the io-node `nodeId`, or, with `null`, for every io-node that holds a member
   * of the command's rooms (every live io-node when it names none: broadcasts, custom commands).
   * Returns the messages it records in room history, one per room of an emit that keeps history (none
   * otherwise): each one's `history` is its position once the delivery is in Redis (after `flush`).
   */
  publish(nodeId: string | null, cmd: Command): readonly EmitCommand[];
  /**
   * Queues the reply to a client event, for the io-node holding the client; with `remember`, the answer
   * is also kept (before the reply goes out) for a resend of that event after a reconnect.
   */
  reply(nodeId: string, cmd: ReplyCommand, remember?: { session: string; eid: string }): void;
  /**
   * Publishes the request command `build(ref, waitMs)` like `publish` and resolves once every io-node it
   * went to answered, or after `waitMs + marginMs` with the others as `missing`. `waitMs` is how long the
   * io-nodes may take (an ack's timeout); `marginMs` what their answers need to come back. Rejects when
   * the command could not be sent, or at once without a reply path.
   */
  request(
    nodeId: string | null,
    build: (ref: RequestRef, waitMs: number) => Command,
    waitMs: number,
    marginMs?: number,
  ): Promise<RequestOutcome>;
  /**
   * Where the next published command will go: pass it to `flush` later to learn whether everything
   * published from here on reached Redis.
   */
  position(): number;
  /**
   * Resolves once everything published so far is in Redis; rejects if Redis refused any of it that was
   * published at or after `since` (default: the commands still buffered or being delivered now).
   */
  flush(since?: number): Promise<void>;
  /**
   * Has the delivery that takes what is buffered now also acknowledge an ingress entry whose job's
   * commands were all published from `since` (a `position()`) on, in the same atomic step as its appends:
   * the one-round-trip delivery does, unless a delivery since `since` failed; a delivery that needs steps
   * does not. Returns whether it did, to ask once `flush` resolved: if not, the consumer acknowledges.
   */
  acknowledge(ack: IngressAcknowledgement, since: number): () => boolean;
  close(): Promise<void>;
}

export interface CommandPublisherOptions {
  /** Which rooms keep history, and how much. */
  history: { keeps: (room: string) => boolean; limits: HistoryLimits };
  logger: Logger;
  /** The state of the transport's connection, named in the log line of a failed delivery. @defaultValue none */
  status?: () => string;
  /** Matches io-nodes' answers to requests (`request`). @defaultValue none: requests reject */
  requester?: Requester;
}

const MAX_FAILURES_KEPT = 1_000;

interface Outgoing {
  /** Deliveries are numbered in the order they go out. */
  seq: number;
  targets: (string | null)[];
  cmds: Command[];
  replies: Map<string, ReplyCommand[]>;
  /** Room emits to record in their room's history first (their `history` is set then). */
  appends: EmitCommand[];
  /** Answers to keep for resends: [session, event id, reply]. */
  remembered: [string, string, ReplyCommand][];
  /** Ingress entries to acknowledge with the appends, with the position their job's commands start at. */
  acks: { ack: IngressAcknowledgement; since: number }[];
  /** The appends acknowledged them. */
  acked: boolean;
  /** Settles once this buffer is in Redis; callers that never await it see no unhandled rejection. */
  sent: Deferred<void>;
}

/** A reply without its addressing: what a resend of its event is answered with. */
function answerOf(reply: ReplyCommand): KeptAnswer {
  const { type: _type, socketId: _socketId, seq: _seq, ...answer } = reply;
  return answer;
}

export function createCommandPublisher(
  transport: CommandTransport,
  options: CommandPublisherOptions,
): CommandPublisher {
  const { logger } = options;
  let next: Outgoing | undefined;
  let delivering: Outgoing | undefined;
  let created = 0;
  /** Recent failed deliveries, so a job that published into one learns of it even after it settled. */
  const failed: { seq: number; err: unknown }[] = [];
  /** Requests published and not yet told where they went. */
  const requests = new Map<string, PendingRequest>();

  function buffer(): Outgoing {
    if (next) return next;
    next = {
      seq: ++created,
      targets: [],
      cmds: [],
      replies: new Map(),
      appends: [],
      remembered: [],
      acks: [],
      acked: false,
      sent: deferred(),
    };
    // Suppress the unhandled rejection of a buffer nobody flushes; flush() reports failures itself.
    next.sent.promise.catch(() => undefined);
    setImmediate(kick);
    return next;
  }

  function kick(): void {
    if (delivering || !next) return;
    const out = next;
    next = undefined;
    delivering = out;
    deliver(out)
      .then(
        () => out.sent.resolve(),
        (err: unknown) => {
          logger.error(
            { err, commands: out.cmds.length, redisStatus: options.status?.() },
            'publishing commands failed',
          );
          failed.push({ seq: out.seq, err });
          if (failed.length > MAX_FAILURES_KEPT) failed.shift();
          for (const cmd of out.cmds) {
            const ref = requestOf(cmd);
            if (ref) requestFor(ref)?.fail(err);
          }
          out.sent.reject(err);
        },
      )
      .finally(() => {
        delivering = undefined;
        kick();
      });
  }

  async function deliver(out: Outgoing): Promise<void> {
    const since = transport.generation();
    const historyOrAnswers = out.appends.length > 0 || out.remembered.length > 0;
    if (transport.appendRouted && needsNoSteps(out, historyOrAnswers)) {
      const routed = routedOf(out);
      // Only entries all of whose job's earlier deliveries went through: the job runs again otherwise.
      const acks = out.acks.filter(({ since }) => !failed.some((f) => f.seq >= since)).map(({ ack }) => ack);
      const gone = await transport.appendRouted(routed, acks);
      out.acked = acks.length === out.acks.length;
      if (gone.length > 0) {
        const rooms = new Set(routed.flatMap((entry) => ('rooms' in entry ? entry.rooms : [])));
        await forgetGone(gone, rooms.size > 0 ? await transport.roomNodes(rooms) : new Map(), new Map());
      }
      await transport.durable(since);
      return;
    }
    const { joins, rooms, broadcast } = lookupsOf(out);
    // Counted before the lookups below and before any append: see CommandTransport.countJoins.
    await Promise.all([
      ...[...joins].map(([nodeId, set]) => transport.countJoins(nodeId, set)),
      ...out.appends.map(async (cmd) => {
        const { event, args, bin, except } = cmd;
        cmd.history = await transport.history.append(
          cmd.rooms![0]!,
          { event, args, bin, except },
          options.history.limits,
        );
      }),
      ...out.cmds.map((cmd) => (cmd.type === 'join' ? positionJoin(cmd) : undefined)),
    ]);
    // A history append a failover loses would have its offset reused on the new primary, and io-nodes
    // that delivered the lost message would skip the new one as already delivered: with replica waits on,
    // the appends must be on the replicas before any io-node sees their offsets.
    if (out.appends.length > 0) await transport.durable(since);
    const [byRoom, targets] = await Promise.all([
      rooms.size > 0 ? transport.roomNodes(rooms) : new Map<string, string[]>(),
      broadcast ? transport.broadcastNodes() : [],
    ]);
    const perNode = planAppends(out, byRoom, targets);
    const gone = await transport.append(perNode);
    if (requests.size > 0) {
      const sentTo = requestTargets(perNode, gone);
      for (const cmd of out.cmds) {
        const ref = requestOf(cmd);
        if (ref) requestFor(ref)?.expect(sentTo.get(ref.id)?.nodes ?? []);
      }
    }
    if (gone.length > 0) await forgetGone(gone, byRoom, joins);
    // Answers are kept for resends only once what their handlers emitted is appended: a resend answered
    // from a kept answer does not run the handler again, so its emits must already be on their way.
    if (out.remembered.length > 0) {
      await Promise.all(
        out.remembered.map(([session, eid, reply]) => transport.remember(session, eid, answerOf(reply))),
      );
    }
    await transport.durable(since);
  }

  /** The request a command carries, taken off the list of those not yet sent. */
  function requestFor(ref: RequestRef): PendingRequest | undefined {
    const pending = requests.get(ref.id);
    requests.delete(ref.id);
    return pending;
  }

  /** Tells the io-node where each joined room with history stands, so it delivers on from there. */
  async function positionJoin(cmd: JoinCommand): Promise<void> {
    const rooms = cmd.rooms.filter(options.history.keeps);
    if (rooms.length === 0) return;
    const positions = await transport.history.positions(rooms);
    // A room without history yet stands at epoch '': everything its history will hold comes later.
    cmd.positions = rooms.map((room, i) => {
      const position = positions[i];
      return position ? [room, position.epoch, position.offset] : [room, '', 0];
    });
  }

  /** Nodes without an inbox were purged (they died): commands for them have no one to reach. */
  async function forgetGone(
    gone: string[],
    byRoom: ReadonlyMap<string, readonly string[]>,
    joins: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<void> {
    logger.debug({ nodes: gone }, 'commands for io-nodes that no longer exist dropped');
    await Promise.all(
      [...roomsOfGone(gone, byRoom, joins)].map(([nodeId, rooms]) => transport.forget(nodeId, rooms)),
    );
  }

  /** Waits for the deliveries open now (buffered or under way) to settle, failed or not. */
  async function settled(): Promise<void> {
    await Promise.allSettled([delivering?.sent.promise, next?.sent.promise]);
  }

  return {
    publish(nodeId, cmd) {
      const out = buffer();
      // A volatile emit is never kept: it goes out like an emit to rooms without history.
      if (nodeId === null && cmd.type === 'emit' && !cmd.volatile && cmd.rooms && cmd.rooms.length > 0) {
        const kept = cmd.rooms.filter(options.history.keeps);
        if (kept.length > 0) {
          const { recorded, rest } = splitForHistory(cmd, kept);
          for (const part of [...recorded, ...(rest ? [rest] : [])]) {
            out.targets.push(null);
            out.cmds.push(part);
          }
          out.appends.push(...recorded);
          return recorded;
        }
      }
      out.targets.push(nodeId);
      out.cmds.push(cmd);
      return [];
    },
    request(nodeId, build, waitMs, marginMs = 0) {
      const { requester } = options;
      if (!requester) {
        return Promise.reject(new IoclusterError('NODE_CLOSING', 'this publisher has no reply path'));
      }
      const pending = requester.open(waitMs + marginMs);
      requests.set(pending.ref.id, pending);
      this.publish(nodeId, build(pending.ref, waitMs));
      return pending.outcome.finally(() => requests.delete(pending.ref.id));
    },
    reply(nodeId, cmd, rememberAs) {
      const out = buffer();
      const list = out.replies.get(nodeId);
      if (list) list.push(cmd);
      else out.replies.set(nodeId, [cmd]);
      if (rememberAs) out.remembered.push([rememberAs.session, rememberAs.eid, cmd]);
    },
    position: () => next?.seq ?? created + 1,
    acknowledge(ack, since) {
      if (!transport.appendRouted) return () => false;
      const out = buffer();
      out.acks.push({ ack, since });
      return () => out.acked;
    },
    async flush(since) {
      const from = since ?? delivering?.seq ?? next?.seq ?? created + 1;
      const to = created;
      await settled();
      const failure = failed.find((f) => f.seq >= from && f.seq <= to);
      if (failure) throw failure.err;
    },
    async close() {
      await settled();
    },
  };
}
