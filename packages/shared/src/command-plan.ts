import type { RoutedCommand } from './transport/commands.js';
import {
  type Command,
  type EmitCommand,
  type ReplyCommand,
  type RequestRef,
  requestOf,
  selectionOf,
} from './wire/commands.js';

/**
 * What one delivery of the command publisher holds, as plain data: the commands in publish order, each
 * with its target (an io-node id, or null: the io-nodes of its rooms, or every broadcast target), and the
 * replies per io-node, which go after that node's commands.
 */
export interface DeliveryInput {
  readonly targets: readonly (string | null)[];
  readonly cmds: readonly Command[];
  readonly replies: ReadonlyMap<string, readonly ReplyCommand[]>;
}

/** What must be looked up (and counted) before a delivery's commands can be given their io-nodes. */
export interface Lookups {
  /** Joins per io-node: counted in the routing table before anything is appended. */
  joins: Map<string, Set<string>>;
  /** Rooms whose io-nodes room emits need. */
  rooms: Set<string>;
  /** Whether the broadcast targets are needed (a broadcast, a custom command to all, or a room emit). */
  broadcast: boolean;
}

/** A room emit split for history: the messages to record (one per kept room) and the rest, if any. */
export interface HistorySplit {
  recorded: EmitCommand[];
  rest: EmitCommand | undefined;
}

/**
 * A room command (an emit to rooms, a selection of rooms) goes to the rooms' io-nodes; an untargeted one
 * that names no room, to every node.
 */
function roomsOf(cmd: Command): readonly string[] | undefined {
  if (cmd.type === 'emit') return cmd.rooms && cmd.rooms.length > 0 ? cmd.rooms : undefined;
  const rooms = selectionOf(cmd)?.rooms;
  return rooms && rooms.length > 0 ? rooms : undefined;
}

/**
 * The io-nodes each request command of a plan goes to (those whose answers its requester awaits), less
 * the nodes found without an inbox (`gone`: they will never answer).
 */
export function requestTargets(
  perNode: ReadonlyMap<string, readonly Command[]>,
  gone: readonly string[] = [],
): Map<string, { ref: RequestRef; nodes: string[] }> {
  const result = new Map<string, { ref: RequestRef; nodes: string[] }>();
  for (const [nodeId, cmds] of perNode) {
    for (const cmd of cmds) {
      const ref = requestOf(cmd);
      if (!ref) continue;
      const entry = result.get(ref.id) ?? { ref, nodes: [] };
      result.set(ref.id, entry);
      if (!gone.includes(nodeId) && !entry.nodes.includes(nodeId)) entry.nodes.push(nodeId);
    }
  }
  return result;
}

/**
 * A room emit naming rooms with history becomes one message per such room (each to be recorded in its
 * room's history) plus one for the other rooms. Each leaves out the rooms before it, so a socket in
 * several of them still gets it once, and a recovery replays it only where it was delivered.
 */
export function splitForHistory(cmd: EmitCommand, kept: readonly string[]): HistorySplit {
  const except = cmd.except ?? [];
  const before: string[] = [];
  const recorded: EmitCommand[] = [];
  for (const room of kept) {
    const part: EmitCommand = { ...cmd, rooms: [room], except: [...except, ...before] };
    if (part.except!.length === 0) delete part.except;
    recorded.push(part);
    before.push(room);
  }
  const others = (cmd.rooms ?? []).filter((room) => !kept.includes(room));
  const rest = others.length > 0 ? { ...cmd, rooms: others, except: [...except, ...kept] } : undefined;
  return { recorded, rest };
}

/** The joins to count and the rooms and targets to look up for a delivery. */
export function lookupsOf(delivery: DeliveryInput): Lookups {
  const joins = new Map<string, Set<string>>();
  const rooms = new Set<string>();
  let everyNode = false;
  delivery.cmds.forEach((cmd, i) => {
    const target = delivery.targets[i] ?? null;
    if (target === null) {
      const named = roomsOf(cmd);
      if (named) for (const room of named) rooms.add(room);
      else everyNode = true;
    } else if (cmd.type === 'join') {
      const set = joins.get(target) ?? new Set<string>();
      for (const room of cmd.rooms) set.add(room);
      joins.set(target, set);
    }
  });
  // A room no node counts (no members, or a socket id used as a room) goes to every broadcast target,
  // which drops what it has no member for: the targets are needed with any room emit.
  return { joins, rooms, broadcast: everyNode || rooms.size > 0 };
}

/**
 * Each io-node's commands, in publish order and its replies last, given the looked-up io-nodes of each
 * room (`byRoom`) and the broadcast targets.
 */
export function planAppends(
  delivery: DeliveryInput,
  byRoom: ReadonlyMap<string, readonly string[]>,
  broadcastNodes: readonly string[],
): Map<string, Command[]> {
  const perNode = new Map<string, Command[]>();
  const add = (nodeId: string, cmd: Command) => {
    const list = perNode.get(nodeId);
    if (list) list.push(cmd);
    else perNode.set(nodeId, [cmd]);
  };
  delivery.cmds.forEach((cmd, i) => {
    const target = delivery.targets[i] ?? null;
    const named = roomsOf(cmd);
    if (target !== null) add(target, cmd);
    else if (named) {
      const nodes = new Set<string>();
      for (const room of named) {
        const counted = byRoom.get(room) ?? [];
        for (const nodeId of counted.length > 0 ? counted : broadcastNodes) nodes.add(nodeId);
      }
      for (const nodeId of nodes) add(nodeId, cmd);
    } else {
      for (const nodeId of broadcastNodes) add(nodeId, cmd);
    }
  });
  for (const [nodeId, replies] of delivery.replies) for (const reply of replies) add(nodeId, reply);
  return perNode;
}

/** The delivery as routed commands for a transport that looks up and appends in one step. */
export function routedOf(delivery: DeliveryInput): RoutedCommand[] {
  const routed: RoutedCommand[] = delivery.cmds.map((cmd, i) => {
    const node = delivery.targets[i] ?? null;
    if (node !== null) return { cmd, node };
    const rooms = roomsOf(cmd);
    return rooms ? { cmd, rooms } : { cmd };
  });
  for (const [node, replies] of delivery.replies) for (const cmd of replies) routed.push({ cmd, node });
  return routed;
}

/**
 * Whether a delivery may go in one step: it has no join to count first (nor history or answers), and
 * no request, whose requester must learn which io-nodes it went to.
 */
export function needsNoSteps(delivery: DeliveryInput, historyOrAnswers: boolean): boolean {
  return (
    !historyOrAnswers && !delivery.cmds.some((cmd) => cmd.type === 'join' || requestOf(cmd) !== undefined)
  );
}

/**
 * For io-nodes found without an inbox (purged: they died), the rooms that may still list them: those the
 * delivery counted joins of for them and those the look-up found them in.
 */
export function roomsOfGone(
  gone: readonly string[],
  byRoom: ReadonlyMap<string, readonly string[]>,
  joins: ReadonlyMap<string, ReadonlySet<string>>,
): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const nodeId of gone) {
    const rooms = new Set(joins.get(nodeId));
    for (const [room, nodes] of byRoom) if (nodes.includes(nodeId)) rooms.add(room);
    result.set(nodeId, rooms);
  }
  return result;
}
