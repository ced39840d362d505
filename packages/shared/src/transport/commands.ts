import type { RoomHistory } from '../history.js';
import type { Command, ReplyCommand } from '../wire/commands.js';
import type { ReplyResult } from '../wire/replies.js';
import type { IngressAcknowledgement } from './ingress.js';

/** A command and where it goes: one io-node, the io-nodes of its rooms, or every broadcast target. */
export type RoutedCommand =
  | { cmd: Command; node: string }
  | { cmd: Command; rooms: readonly string[] }
  | { cmd: Command };

/** The answer kept for a client's event: its reply without the addressing. */
export type KeptAnswer = Omit<ReplyCommand, 'type' | 'socketId' | 'seq'>;

/**
 * The app-node's side of the command path: the routing table, the io-nodes' inboxes, room history and
 * kept answers. The app-node's publisher decides what goes where (a pure planner) and calls these in
 * order; a transport only stores and looks up.
 *
 * Every implementation must:
 * - make a join counted by `countJoins` visible to every `roomNodes` that starts after it resolved, on
 *   any app-node: that, with the publisher awaiting it before appending, is join-before-emit;
 * - append each node's commands of one `append` as one inbox entry, in the given order, and keep the
 *   order of entries appended one after another; report the nodes that have no inbox (purged) instead
 *   of creating one;
 * - keep room history offsets contiguous per epoch (a lost history starts a new epoch), and read back
 *   what it appended in offset order;
 * - keep a remembered answer for at least the recovery window.
 *
 * It does not route (that is the planner's), does not deduplicate, and makes no promise about the order
 * of entries appended by concurrent `append` calls.
 */
export interface CommandTransport {
  /** The io-nodes counted in each room (members, plus joins published and not yet applied). */
  roomNodes(rooms: Iterable<string>): Promise<Map<string, string[]>>;
  /** Every io-node a broadcast must reach: the live ones and those cut off for less than the retention. */
  broadcastNodes(): Promise<string[]>;
  /** Counts joins of `rooms` for `nodeId`; resolves once any later `roomNodes` sees them. */
  countJoins(nodeId: string, rooms: Iterable<string>): Promise<void>;
  /** Removes a node found without an inbox from rooms that still list it. */
  forget(nodeId: string, rooms: Iterable<string>): Promise<void>;
  /** Appends each node's commands as one entry of its inbox; resolves with the nodes that had none. */
  append(entries: ReadonlyMap<string, readonly Command[]>): Promise<string[]>;
  /**
   * Optional: looks the rooms up and appends in one step, with the same routing as the planner (room
   * commands go to the rooms' nodes, or to every broadcast target for a room no node counts). Only for
   * deliveries without joins, history or answers to keep. Resolves with the nodes that had no inbox.
   * `acks`: ingress entries to acknowledge in the same atomic step, after the appends (an append that
   * fails acknowledges nothing).
   */
  appendRouted?(
    routed: readonly RoutedCommand[],
    acks?: readonly IngressAcknowledgement[],
  ): Promise<string[]>;
  /** Rooms' histories, where room emits are recorded before they are appended. */
  readonly history: RoomHistory;
  /** Keeps the answer to event `eid` of a session, for a resend of it. */
  remember(session: string, eid: string, answer: KeptAnswer): Promise<void>;
  /** The answer kept for event `eid` of a session, if its first run finished. */
  earlierAnswer(session: string, eid: string): Promise<KeptAnswer | null>;
  /** Where the transport's connection stands, taken before a delivery's writes and given to `durable`. */
  generation(): number;
  /**
   * Resolves once what was written since `since` (a {@link CommandTransport.generation}) is as durable
   * as configured (the replica wait); rejects if it cannot tell, e.g. because the connection closed since.
   */
  durable(since: number): Promise<void>;
}

/**
 * The io-node's side of the command path. Implementations deliver every command meant for this node to
 * the handlers exactly in the order the app-nodes' appends reached the transport — across app-nodes too:
 * that is what makes a `join` published before an `emit` apply first. They lose nothing while the node's
 * connection is down, however long, as long as what was sent meanwhile was kept (see the inbox
 * retention): on reconnect they go on from the last command applied. They drop malformed commands with a
 * log line and never throw into the caller. They do not deduplicate: a command appended twice (an
 * app-node's job run again) is delivered twice.
 */
export interface CommandSubscriber {
  /** Makes the node reachable (inbox created, listed as a broadcast target) and starts reading. */
  start(): Promise<void>;
  /**
   * Registers the handler of every command. A handler that returns a promise holds back the commands
   * after it until the promise settles (a room's history gap being read, say): order is kept.
   */
  onCommand(handler: (cmd: Command) => void | Promise<void>): () => void;
  /**
   * Called when this node's inbox or routing entries were found gone while it ran (the store lost its
   * data): whatever routing state the node holds must be written again. Returns the unsubscribe function.
   */
  onReset(handler: () => void): () => void;
  /**
   * Creates the inbox again if the store lost it (a restart without persistence): the ingress producer
   * calls it after a reconnect, before the first job, so the answers to that job have somewhere to go.
   */
  ensureInbox(): Promise<void>;
  /**
   * Sends this node's answer to a request command (`RequestRef`) on the reply path to its requester's
   * `replyTo`; resolves once sent (not once received: nobody may listen any more). Never throws for an
   * address nobody listens on.
   */
  reply(replyTo: string, id: string, result: ReplyResult): Promise<void>;
  /** Stops reading and removes the node's inbox and routing entries. Idempotent. */
  close(): Promise<void>;
}
