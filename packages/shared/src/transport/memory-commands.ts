import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import {
  type Command,
  decodeCommandEnvelope,
  encodeCommandEnvelope,
  type Selection,
  selectionOf,
} from '../wire/commands.js';
import { decodeNodeReply, encodeNodeReply, type NodeReply } from '../wire/replies.js';
import type { CommandSubscriber, CommandTransport, KeptAnswer } from './commands.js';
import { createMemoryRoomHistory } from './memory-history.js';
import type { ReplyInbox } from './replies.js';

/** One io-node's inbox: entries appended and not yet read, and whether its reader is cut off. */
interface Inbox {
  entries: string[];
  /** Rooms each of its sockets is in, as the applied joins and leaves left them. */
  sockets: Map<string, Set<string>>;
  cutOff: boolean;
  wake: (() => void) | undefined;
}

/**
 * The command path in one process: the in-memory twin of the routing table, the inbox streams, room
 * history and kept answers in Redis. Give `transport()` to app-nodes and `subscriber(nodeId)` to
 * io-nodes. Commands go through the wire encoder and decoder, as they do through Redis.
 */
export interface MemoryCommandPath {
  /** An app-node's side; every call returns a view of the same store. */
  transport(): CommandTransport;
  /** An io-node's side: its inbox exists from `start()` to `close()`. */
  subscriber(nodeId: string, logger?: Logger): CommandSubscriber;
  /** A requester's reply inbox at `address`: gets what subscribers' `reply` sends there. */
  replyInbox(address: string): ReplyInbox;
  /**
   * Cuts an io-node's reader off (its connection dropped) or lets it read on: entries appended meanwhile
   * wait in its inbox.
   */
  cutOff(nodeId: string, off: boolean): void;
  /** The io-nodes counted in a room, with their counts (for tests). */
  roomCounts(room: string): ReadonlyMap<string, number>;
}

export function createMemoryCommandPath(): MemoryCommandPath {
  const inboxes = new Map<string, Inbox>();
  const rooms = new Map<string, Map<string, number>>();
  const answers = new Map<string, Map<string, string>>();
  const history = createMemoryRoomHistory();
  const listeners = new Map<string, Set<(reply: NodeReply) => void>>();

  function adjust(nodeId: string, room: string, delta: number): void {
    const counts = rooms.get(room) ?? new Map<string, number>();
    const n = (counts.get(nodeId) ?? 0) + delta;
    if (n > 0) counts.set(nodeId, n);
    else counts.delete(nodeId);
    if (counts.size > 0) rooms.set(room, counts);
    else rooms.delete(room);
  }

  function forget(nodeId: string, list: Iterable<string>): void {
    for (const room of list) {
      const counts = rooms.get(room);
      counts?.delete(nodeId);
      if (counts?.size === 0) rooms.delete(room);
    }
  }

  /** The sockets of an inbox a selection picks (those the inbox knows of through applied joins). */
  function selected(inbox: Inbox, select: Selection): string[] {
    const inAny = (id: string, list: readonly string[]) =>
      list.some((room) => room === id || inbox.sockets.get(id)?.has(room));
    return [...inbox.sockets.keys()].filter(
      (id) =>
        (!select.rooms?.length || inAny(id, select.rooms)) && !(select.except && inAny(id, select.except)),
    );
  }

  /** What the io-node's room routing does with the counts as it applies membership changes. */
  function track(inbox: Inbox, nodeId: string, cmd: Command): void {
    const select = selectionOf(cmd);
    if (select && (cmd.type === 'sockets-join' || cmd.type === 'sockets-leave')) {
      for (const socketId of selected(inbox, select)) {
        const held = inbox.sockets.get(socketId)!;
        for (const room of cmd.rooms) {
          if (cmd.type === 'sockets-join' && !held.has(room)) {
            held.add(room);
            adjust(nodeId, room, 1);
          } else if (cmd.type === 'sockets-leave' && held.delete(room)) adjust(nodeId, room, -1);
        }
      }
      return;
    }
    if (select && cmd.type === 'sockets-disconnect') {
      for (const socketId of selected(inbox, select)) track(inbox, nodeId, { type: 'disconnect', socketId });
      return;
    }
    if (cmd.type !== 'join' && cmd.type !== 'leave' && cmd.type !== 'disconnect') return;
    const held = inbox.sockets.get(cmd.socketId) ?? new Set<string>();
    inbox.sockets.set(cmd.socketId, held);
    if (cmd.type === 'join') {
      // The join counted by the app-node becomes the membership (net 0), or goes when already a member.
      for (const room of cmd.rooms) {
        if (held.has(room)) adjust(nodeId, room, -1);
        else held.add(room);
      }
      return;
    }
    const leaving = cmd.type === 'leave' ? cmd.rooms.filter((room) => held.has(room)) : [...held];
    for (const room of leaving) {
      held.delete(room);
      adjust(nodeId, room, -1);
    }
    if (cmd.type === 'disconnect') inbox.sockets.delete(cmd.socketId);
  }

  const transport: CommandTransport = {
    async roomNodes(list) {
      return new Map([...list].map((room) => [room, [...(rooms.get(room)?.keys() ?? [])]]));
    },
    async broadcastNodes() {
      return [...inboxes.keys()];
    },
    async countJoins(nodeId, list) {
      for (const room of list) adjust(nodeId, room, 1);
    },
    async forget(nodeId, list) {
      forget(nodeId, list);
    },
    async append(entries) {
      const gone: string[] = [];
      for (const [nodeId, cmds] of entries) {
        const inbox = inboxes.get(nodeId);
        if (!inbox) {
          gone.push(nodeId);
          continue;
        }
        inbox.entries.push(encodeCommandEnvelope(cmds));
        inbox.wake?.();
      }
      return gone;
    },
    history,
    async remember(session, eid, answer) {
      const kept = answers.get(session) ?? new Map<string, string>();
      answers.set(session, kept);
      kept.set(eid, JSON.stringify(answer));
    },
    async earlierAnswer(session, eid) {
      const raw = answers.get(session)?.get(eid);
      return raw === undefined ? null : (JSON.parse(raw) as KeptAnswer);
    },
    generation: () => 0,
    async durable() {},
  };

  function subscriber(nodeId: string, logger: Logger = silentLogger()): CommandSubscriber {
    const handlers = new Set<(cmd: Command) => void | Promise<void>>();
    let inbox: Inbox | undefined;
    let loop: Promise<void> | undefined;
    let closed = false;

    async function apply(cmd: Command): Promise<void> {
      for (const handler of handlers) {
        try {
          await handler(cmd);
        } catch (err) {
          logger.error({ err, type: cmd.type }, 'command handler failed');
        }
      }
    }

    async function read(own: Inbox): Promise<void> {
      while (!closed) {
        const raw = own.cutOff ? undefined : own.entries.shift();
        if (raw === undefined) {
          await new Promise<void>((resolve) => {
            own.wake = resolve;
          });
          own.wake = undefined;
          continue;
        }
        const { cmds, errors } = decodeCommandEnvelope(raw);
        for (const err of errors) logger.warn({ err }, 'malformed command dropped');
        for (const cmd of cmds) {
          track(own, nodeId, cmd);
          await apply(cmd);
        }
      }
    }

    function purge(): void {
      const own = inboxes.get(nodeId);
      if (!own) return;
      inboxes.delete(nodeId);
      for (const [room, counts] of rooms) if (counts.has(nodeId)) forget(nodeId, [room]);
      own.wake?.();
    }

    return {
      async start() {
        // A previous life of this node id may have left entries behind, as in Redis.
        purge();
        inbox = { entries: [], sockets: new Map(), cutOff: false, wake: undefined };
        inboxes.set(nodeId, inbox);
        loop = read(inbox);
      },
      onCommand(handler) {
        handlers.add(handler);
        return () => handlers.delete(handler);
      },
      onReset() {
        // The store lives as long as the process: it never loses an inbox behind a node's back.
        return () => undefined;
      },
      async ensureInbox() {},
      async reply(replyTo, id, result) {
        const raw = encodeNodeReply(id, nodeId, result);
        // Delivered on a later turn, as through Redis; nobody listening: dropped.
        setImmediate(() => {
          for (const handler of listeners.get(replyTo) ?? []) handler(decodeNodeReply(raw));
        });
      },
      async close() {
        if (closed) return;
        closed = true;
        if (inboxes.get(nodeId) === inbox) purge();
        await loop;
        handlers.clear();
      },
    };
  }

  function replyInbox(address: string): ReplyInbox {
    const handlers = new Set<(reply: NodeReply) => void>();
    const deliver = (reply: NodeReply) => {
      for (const handler of handlers) handler(reply);
    };
    return {
      address,
      async start() {
        const set = listeners.get(address) ?? new Set();
        set.add(deliver);
        listeners.set(address, set);
      },
      onReply(handler) {
        handlers.add(handler);
        return () => handlers.delete(handler);
      },
      async close() {
        listeners.get(address)?.delete(deliver);
        handlers.clear();
      },
    };
  }

  return {
    transport: () => transport,
    subscriber,
    replyInbox,
    cutOff(nodeId, off) {
      const inbox = inboxes.get(nodeId);
      if (!inbox) throw new Error(`no inbox for io-node "${nodeId}"`);
      inbox.cutOff = off;
      if (!off) inbox.wake?.();
    },
    roomCounts: (room) => new Map(rooms.get(room)),
  };
}
