import type { CommandPublisher } from './command-publisher.js';
import { IoclusterError } from './errors.js';
import type { RequestOutcome } from './requests.js';
import type { Command, EmitCommand, RequestRef, Selection } from './wire/commands.js';
import type { SocketDescription } from './wire/replies.js';
import { decodeArgs, encodeArgs } from './wire/values.js';

/** How long a selection request (`fetchSockets`, `socketsJoin`...) waits for io-nodes' answers. */
export const SELECTION_TIMEOUT_MS = 5_000;
/** What an ack's answer needs, past the ack's own timeout, to come back from its io-node. */
export const ACK_REPLY_MARGIN_MS = 2_000;
/** An ack wait without `timeout(ms)`. */
export const DEFAULT_ACK_TIMEOUT_MS = 5_000;

/**
 * What `app.to(room).timeout(ms).emitWithAck(...)` resolves with: Socket.IO's broadcast answers (every
 * answer that came in time, one per answering client), and who did not answer.
 */
export interface BroadcastAcks<T = unknown> {
  /** The answers that came in time (each client's first ack argument), as Socket.IO's `emitWithAck` gives. */
  responses: T[];
  /** The same answers with the socket that gave each. */
  answers: { socketId: string; response: T }[];
  /** Sockets that got the event and did not answer in time. */
  missing: string[];
  /** io-nodes that did not report in time (dead, cut off): their sockets are in neither list. */
  missingNodes: string[];
}

/** What a selection change (`socketsJoin`, `socketsLeave`, `disconnectSockets`) did. */
export interface SelectionChange {
  /** How many sockets it applied to across the cluster (those of the io-nodes that answered). */
  count: number;
  /** io-nodes that did not answer in time: whether it applied there is unknown. */
  missingNodes: string[];
}

/** A timeout given by the application, checked: a finite number of ms, not negative. */
export function checkTimeout(ms: number, what: string): number {
  if (!Number.isFinite(ms) || ms < 0) throw new TypeError(`${what}: ms must be a non-negative number`);
  return Math.floor(ms);
}

/** Sends a selection command to the io-nodes of its rooms (all when it names none) and sums their answers. */
export async function changeSelection(
  publisher: CommandPublisher,
  build: (ref: RequestRef) => Command,
  timeoutMs = SELECTION_TIMEOUT_MS,
): Promise<SelectionChange> {
  const outcome = await publisher.request(null, (ref) => build(ref), timeoutMs);
  let count = 0;
  for (const result of outcome.replies.values()) if (result.type === 'done') count += result.count;
  return { count, missingNodes: outcome.missing };
}

/** The sockets a selection picks on every io-node that answered, as descriptions. */
export async function fetchDescriptions(
  publisher: CommandPublisher,
  select: Selection,
  timeoutMs = SELECTION_TIMEOUT_MS,
): Promise<SocketDescription[]> {
  const outcome = await publisher.request(
    null,
    (request) => ({ type: 'fetch-sockets', select, request }),
    timeoutMs,
  );
  const sockets: SocketDescription[] = [];
  for (const result of outcome.replies.values())
    if (result.type === 'sockets') sockets.push(...result.sockets);
  return sockets;
}

/** Emits to a selection and gathers every client's ack within `timeoutMs`. */
export async function broadcastWithAck<T>(
  publisher: CommandPublisher,
  select: Selection,
  timeoutMs: number,
  event: string,
  args: unknown[],
): Promise<BroadcastAcks<T>> {
  const outcome = await publisher.request(
    null,
    (request, waitMs) => ({
      type: 'emit-ack',
      event,
      ...encodeArgs(args),
      select,
      timeoutMs: waitMs,
      request,
    }),
    timeoutMs,
    ACK_REPLY_MARGIN_MS,
  );
  return acksOf<T>(outcome);
}

/** Emits to one socket on its io-node and resolves with its answer; rejects ACK_TIMEOUT when none came. */
export async function socketEmitWithAck<T>(
  publisher: CommandPublisher,
  target: { nodeId: string; socketId: string },
  timeoutMs: number,
  event: string,
  args: unknown[],
): Promise<T> {
  const outcome = await publisher.request(
    target.nodeId,
    (request, waitMs) => ({
      type: 'emit-ack',
      event,
      ...encodeArgs(args),
      socketId: target.socketId,
      timeoutMs: waitMs,
      request,
    }),
    timeoutMs,
    ACK_REPLY_MARGIN_MS,
  );
  const acks = acksOf<T>(outcome);
  const answer = acks.answers[0];
  if (!answer) {
    throw new IoclusterError(
      'ACK_TIMEOUT',
      `socket ${target.socketId} did not answer "${event}" within ${timeoutMs} ms` +
        (acks.missingNodes.length > 0 ? ` (its io-node ${target.nodeId} did not report)` : ''),
    );
  }
  return answer.response;
}

function acksOf<T>(outcome: RequestOutcome): BroadcastAcks<T> {
  const acks: BroadcastAcks<T> = { responses: [], answers: [], missing: [], missingNodes: outcome.missing };
  for (const result of outcome.replies.values()) {
    if (result.type !== 'acks') continue;
    for (const answer of result.answers) {
      const response = decodeArgs(answer.args, answer.bin)[0] as T;
      acks.responses.push(response);
      acks.answers.push({ socketId: answer.socketId, response });
    }
    acks.missing.push(...result.missing);
  }
  return acks;
}

/** What a room operator targets: rooms (none: everyone), rooms or socket ids left out, and how it sends. */
export interface OperatorTarget {
  readonly rooms: readonly string[];
  readonly except: readonly string[];
  readonly volatile: boolean;
  /** Set by `timeout(ms)`: the ack wait, and the selection requests' wait for io-nodes. */
  readonly timeoutMs: number | undefined;
}

const EVERY_CLIENT: OperatorTarget = { rooms: [], except: [], volatile: false, timeoutMs: undefined };

function roomList(rooms: string | readonly string[]): string[] {
  return typeof rooms === 'string' ? [rooms] : [...rooms];
}

/**
 * The targeting half of a room operator (an app-node's `BroadcastOperator`, an emitter's `EmitOperator`),
 * like Socket.IO's: immutable, each call returns a new operator, made by the subclass's `derive`. With no
 * room it targets every client; `except` takes rooms or socket ids.
 */
export abstract class TargetOperator<Self> {
  protected constructor(protected readonly target: OperatorTarget = EVERY_CLIENT) {}

  /** A new operator of the subclass's kind with this target. */
  protected abstract derive(target: OperatorTarget): Self;

  /** Adds rooms to the target. */
  to(rooms: string | readonly string[]): Self {
    return this.derive({ ...this.target, rooms: [...this.target.rooms, ...roomList(rooms)] });
  }

  /** Alias of {@link TargetOperator.to}. */
  in(rooms: string | readonly string[]): Self {
    return this.to(rooms);
  }

  /** Leaves out the members of these rooms (a socket id is a room of one). */
  except(rooms: string | readonly string[]): Self {
    return this.derive({ ...this.target, except: [...this.target.except, ...roomList(rooms)] });
  }

  /**
   * Socket.IO's `volatile`: the message may be lost. It is never kept in a room's history (so recovery
   * does not replay it), and an io-node drops it for a client whose connection cannot take it now.
   * For what is stale a moment later: typing indicators, cursors.
   */
  get volatile(): Self {
    return this.derive({ ...this.target, volatile: true });
  }

  /**
   * How long `emitWithAck` waits for each client's answer, and the selection requests (`fetchSockets`,
   * `socketsJoin`...) for io-nodes' answers (ms). @defaultValue 5000
   */
  timeout(ms: number): Self {
    return this.derive({ ...this.target, timeoutMs: checkTimeout(ms, 'timeout()') });
  }

  /** The emit command of this target, without arguments. */
  protected emitCommand(
    event: string,
  ): Pick<EmitCommand, 'type' | 'event' | 'rooms' | 'except' | 'volatile'> {
    const cmd: Pick<EmitCommand, 'type' | 'event' | 'rooms' | 'except' | 'volatile'> = {
      type: 'emit',
      event,
    };
    if (this.target.rooms.length > 0) cmd.rooms = [...new Set(this.target.rooms)];
    if (this.target.except.length > 0) cmd.except = [...this.target.except];
    if (this.target.volatile) cmd.volatile = true;
    return cmd;
  }

  /** The sockets this target picks, as selection commands name them. */
  protected selection(): Selection {
    const select: Selection = {};
    if (this.target.rooms.length > 0) select.rooms = [...new Set(this.target.rooms)];
    if (this.target.except.length > 0) select.except = [...this.target.except];
    return select;
  }

  /** How long a selection request waits for io-nodes' answers. */
  protected requestTimeout(): number {
    return this.target.timeoutMs ?? SELECTION_TIMEOUT_MS;
  }

  /** How long an ack waits for each client's answer. */
  protected ackTimeout(): number {
    return this.target.timeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
  }
}
