import {
  type Command,
  createRoomHistory,
  createRoutingTable,
  type Deferred,
  deferred,
  type EmitCommand,
  encodeCommandEnvelope,
  type HistoryLimits,
  type JoinCommand,
  type Keys,
  type Logger,
  type RedisConnection,
  type ReplicaWait,
  type ReplyCommand,
  waitForReplicas,
} from '@iocluster/shared';
import { appendRouted, type Routed } from './inbox-append-script.js';

/**
 * Sending side of the command bus: appends commands to the inboxes (Redis Streams) of the io-nodes that
 * must apply them. `publish` only buffers; what was buffered while the previous delivery ran goes out
 * together, one stream entry per io-node, holding that node's commands in the order they were published
 * and the replies last (a reply only has to follow the commands of its own event).
 *
 * A delivery has up to two steps: first the routing table (joins counted, rooms and live nodes looked
 * up), then the inbox appends. Deliveries run one after another, so one app-node's commands reach each
 * inbox in publish order, and a join is counted before any emit published after it looks its room up.
 */
export interface CommandPublisher {
  /**
   * Queues a command for the io-node `nodeId`, or, with `null`, for every io-node that holds a member
   * of the command's rooms (every live io-node when it names none: broadcasts, custom commands).
   */
  publish(nodeId: string | null, cmd: Command): void;
  /**
   * Queues the reply to a client event, for the io-node holding the client; with `remember`, the answer
   * is also kept (before the reply goes out) for a resend of that event after a reconnect.
   */
  reply(nodeId: string, cmd: ReplyCommand, remember?: { session: string; eid: string }): void;
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
  close(): Promise<void>;
}

export interface CommandPublisherOptions {
  /**
   * Inbox entries older than this are trimmed when new ones are appended: how long an io-node may be cut
   * off from Redis and still read every command meant for it.
   */
  inboxRetentionMs: number;
  /** Which rooms keep history, and how much. */
  history: { keeps: (room: string) => boolean; limits: HistoryLimits };
  /** How long the answers to a session's events are kept for its resends. */
  recoveryWindowMs: number;
  /** Replicas that must have a delivery's writes before it counts as sent (replica-wait.ts). */
  replicaWait?: ReplicaWait;
  /**
   * Deliver commands that need no join, history or answer step in one round trip (a Lua script) when
   * Redis is not a Cluster; false always takes the two-step path. @defaultValue true
   */
  oneRoundTrip?: boolean;
}

const MAX_FAILURES_KEPT = 1_000;

/**
 * A room emit naming rooms with history becomes one message per such room (each recorded in its room's
 * history) plus one for the other rooms. Each leaves out the rooms before it, so a socket in several of
 * them still gets it once, and a recovery replays it only where it was delivered.
 */
function splitForHistory(out: Outgoing, cmd: EmitCommand, kept: string[]): void {
  const except = cmd.except ?? [];
  const before: string[] = [];
  for (const room of kept) {
    const part: EmitCommand = { ...cmd, rooms: [room], except: [...except, ...before] };
    if (part.except!.length === 0) delete part.except;
    out.targets.push(null);
    out.cmds.push(part);
    out.appends.push(part);
    before.push(room);
  }
  const rest = cmd.rooms!.filter((room) => !kept.includes(room));
  if (rest.length > 0) {
    out.targets.push(null);
    out.cmds.push({ ...cmd, rooms: rest, except: [...except, ...kept] });
  }
}

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
  /** Settles once this buffer is in Redis; callers that never await it see no unhandled rejection. */
  sent: Deferred<void>;
}

export function createCommandPublisher(
  connection: RedisConnection,
  keys: Keys,
  logger: Logger,
  options: CommandPublisherOptions,
): CommandPublisher {
  const routing = createRoutingTable(connection, keys);
  // Off a Redis Cluster the common delivery takes one round trip (see inbox-append-script.ts).
  const oneRoundTrip = !connection.isCluster && options.oneRoundTrip !== false;
  const history = createRoomHistory(connection, keys);
  let next: Outgoing | undefined;
  let delivering: Outgoing | undefined;
  let created = 0;
  /** Recent failed deliveries, so a job that published into one learns of it even after it settled. */
  const failed: { seq: number; err: unknown }[] = [];

  function buffer(): Outgoing {
    if (next) return next;
    next = {
      seq: ++created,
      targets: [],
      cmds: [],
      replies: new Map(),
      appends: [],
      remembered: [],
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
            { err, commands: out.cmds.length, redisStatus: connection.status },
            'publishing commands failed',
          );
          failed.push({ seq: out.seq, err });
          if (failed.length > MAX_FAILURES_KEPT) failed.shift();
          out.sent.reject(err);
        },
      )
      .finally(() => {
        delivering = undefined;
        kick();
      });
  }

  async function deliver(out: Outgoing): Promise<void> {
    if (oneRoundTrip && out.appends.length === 0 && out.remembered.length === 0) {
      if (!out.cmds.some((cmd) => cmd.type === 'join')) return deliverInOneRoundTrip(out);
    }
    const joins = new Map<string, Set<string>>();
    const rooms = new Set<string>();
    let everyNode = false;
    out.cmds.forEach((cmd, i) => {
      const target = out.targets[i];
      if (target === null || target === undefined) {
        if (cmd.type === 'emit' && cmd.rooms && cmd.rooms.length > 0) for (const r of cmd.rooms) rooms.add(r);
        else everyNode = true;
      } else if (cmd.type === 'join') {
        const set = joins.get(target) ?? new Set<string>();
        for (const r of cmd.rooms) set.add(r);
        joins.set(target, set);
      }
    });
    // Counted before the lookups below and before any append: see RoutingTable.
    await Promise.all([
      ...[...joins].map(([nodeId, set]) => routing.countJoins(nodeId, set)),
      ...out.appends.map(async (cmd) => {
        const { event, args, bin, except } = cmd;
        cmd.history = await history.append(
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
    if (out.appends.length > 0) await waitForReplicas(connection, options.replicaWait);
    // Live nodes are looked up with the rooms too: a room no node counts (no members, or a socket id
    // used as a room) goes to every node, which drops what it has no member for.
    const [byRoom, live] = await Promise.all([
      rooms.size > 0 ? routing.roomNodes(rooms) : new Map<string, string[]>(),
      everyNode || rooms.size > 0 ? routing.liveNodes(Date.now() - options.inboxRetentionMs) : [],
    ]);

    const perNode = new Map<string, Command[]>();
    const add = (nodeId: string, cmd: Command) => {
      const list = perNode.get(nodeId);
      if (list) list.push(cmd);
      else perNode.set(nodeId, [cmd]);
    };
    out.cmds.forEach((cmd, i) => {
      const target = out.targets[i];
      if (target !== null && target !== undefined) add(target, cmd);
      else if (cmd.type === 'emit' && cmd.rooms && cmd.rooms.length > 0) {
        const nodes = new Set<string>();
        for (const room of cmd.rooms) {
          const counted = byRoom.get(room) ?? [];
          for (const nodeId of counted.length > 0 ? counted : live) nodes.add(nodeId);
        }
        for (const nodeId of nodes) add(nodeId, cmd);
      } else {
        for (const nodeId of live) add(nodeId, cmd);
      }
    });
    for (const [nodeId, replies] of out.replies) for (const reply of replies) add(nodeId, reply);

    const minId = Date.now() - options.inboxRetentionMs;
    const entries = [...perNode];
    const ids = await Promise.all(
      entries.map(([nodeId, cmds]) =>
        connection.xadd(
          keys.inbox(nodeId),
          'NOMKSTREAM',
          'MINID',
          '~',
          String(minId),
          '*',
          'c',
          encodeCommandEnvelope(cmds),
        ),
      ),
    );
    const gone = entries.filter((_, i) => ids[i] === null).map(([nodeId]) => nodeId);
    if (gone.length > 0) await forgetGone(gone, byRoom, joins);
    // Answers are kept for resends only once what their handlers emitted is appended: a resend answered
    // from a kept answer does not run the handler again, so its emits must already be on their way.
    if (out.remembered.length > 0) {
      await Promise.all(out.remembered.map(([session, eid, reply]) => remember(session, eid, reply)));
    }
    await waitForReplicas(connection, options.replicaWait);
  }

  /** The common delivery (no joins, history or remembered answers) as one script: see appendRouted. */
  async function deliverInOneRoundTrip(out: Outgoing): Promise<void> {
    const routed: Routed[] = out.cmds.map((cmd, i) => {
      const node = out.targets[i];
      if (node !== null && node !== undefined) return { cmd, node };
      return cmd.type === 'emit' && cmd.rooms && cmd.rooms.length > 0 ? { cmd, rooms: cmd.rooms } : { cmd };
    });
    for (const [node, replies] of out.replies) for (const cmd of replies) routed.push({ cmd, node });
    const gone = await appendRouted(connection, keys, routed, Date.now() - options.inboxRetentionMs);
    if (gone.length === 0) return;
    const rooms = new Set(routed.flatMap((entry) => ('rooms' in entry ? entry.rooms : [])));
    await forgetGone(gone, rooms.size > 0 ? await routing.roomNodes(rooms) : new Map(), new Map());
  }

  /** Tells the io-node where each joined room with history stands, so it delivers on from there. */
  async function positionJoin(cmd: JoinCommand): Promise<void> {
    const rooms = cmd.rooms.filter(options.history.keeps);
    if (rooms.length === 0) return;
    const positions = await history.positions(rooms);
    // A room without history yet stands at epoch '': everything its history will hold comes later.
    cmd.positions = rooms.map((room, i) => {
      const position = positions[i];
      return position ? [room, position.epoch, position.offset] : [room, '', 0];
    });
  }

  async function remember(session: string, eid: string, reply: ReplyCommand): Promise<void> {
    const key = keys.sessionReplies(session);
    const { type: _type, socketId: _socketId, seq: _seq, ...answer } = reply;
    await Promise.all([
      connection.hset(key, eid, JSON.stringify(answer)),
      connection.pexpire(key, options.recoveryWindowMs),
    ]);
  }

  /** Nodes without an inbox were purged (they died): commands for them have no one to reach. */
  async function forgetGone(
    gone: string[],
    byRoom: ReadonlyMap<string, string[]>,
    joins: ReadonlyMap<string, Set<string>>,
  ): Promise<void> {
    logger.debug({ nodes: gone }, 'commands for io-nodes that no longer exist dropped');
    await Promise.all(
      gone.map((nodeId) => {
        const rooms = new Set(joins.get(nodeId));
        for (const [room, nodes] of byRoom) if (nodes.includes(nodeId)) rooms.add(room);
        return routing.forget(nodeId, rooms);
      }),
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
          splitForHistory(out, cmd, kept);
          return;
        }
      }
      out.targets.push(nodeId);
      out.cmds.push(cmd);
    },
    reply(nodeId, cmd, rememberAs) {
      const out = buffer();
      const list = out.replies.get(nodeId);
      if (list) list.push(cmd);
      else out.replies.set(nodeId, [cmd]);
      if (rememberAs) out.remembered.push([rememberAs.session, rememberAs.eid, cmd]);
    },
    position: () => next?.seq ?? created + 1,
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
