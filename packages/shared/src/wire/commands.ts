import { type AckError, WireError } from '../errors.js';
import {
  array,
  integer,
  isPlainObject,
  nonEmptyString,
  object,
  optionalString,
  show,
  string,
  stringArray,
  version,
} from './check.js';
import { checkPresenceMeta, type PresenceMeta } from './presence.js';

export const COMMAND_VERSION = 1;

/**
 * Emit an event: to one socket (`socketId`, sent on its io-node's channel), or to rooms / everyone
 * (`rooms`, empty for all) minus `except` (rooms or socket ids), sent on the broadcast channel.
 */
export interface EmitCommand {
  type: 'emit';
  event: string;
  args: unknown[];
  bin?: true;
  socketId?: string;
  rooms?: string[];
  except?: string[];
  /**
   * Set on an emit to one room with history: where the message stands in that room's history. io-nodes
   * deliver a room's messages in offset order (filling a gap from the history) and tell clients of
   * `@iocluster/client` the position, so they can recover from it.
   */
  history?: HistoryPosition;
  /**
   * An id: an io-node applies emits with the same id once (it remembers recent ids), so a job run again
   * does not deliver them twice. Presence events carry their change's id.
   */
  once?: string;
  /**
   * Socket.IO's `volatile`: the message may be lost. An io-node drops it for a client whose transport
   * cannot take it right now (backpressure, a reconnect under way), and it is never kept in a room's
   * history, so recovery does not replay it (typing indicators, cursors).
   */
  volatile?: true;
}
/** A message's place in a room's history: `offset` counts from 1 within `epoch`. */
export interface HistoryPosition {
  epoch: string;
  offset: number;
}
export interface JoinCommand {
  type: 'join';
  socketId: string;
  rooms: string[];
  /** For the joined rooms that keep history: their position when the join was published. */
  positions?: [room: string, epoch: string, offset: number][];
  /** Opt-in presence: the socket also joins the rooms' rosters with this meta. */
  presence?: PresenceMeta;
  /**
   * Send the socket the last messages of the joined rooms that keep history (those in `positions`)
   * before any live one: the newest `count`, or those of the last `ms`, or both limits at once.
   */
  rewind?: RewindSpec;
}
/** How far back a rewinding join reaches: at least one of the two. */
export interface RewindSpec {
  /** At most this many messages per room (1 to {@link MAX_REWIND}). */
  count?: number;
  /** Only messages emitted within this many ms before the join was applied. */
  ms?: number;
}
/** Most messages a join rewinds per room. */
export const MAX_REWIND = 1_000;
export interface LeaveCommand {
  type: 'leave';
  socketId: string;
  rooms: string[];
}
/** Merge `data` into the socket's connection-scoped data (later jobs carry it). */
export interface SetDataCommand {
  type: 'set-data';
  socketId: string;
  data: Record<string, unknown>;
}
export interface DisconnectCommand {
  type: 'disconnect';
  socketId: string;
  /** Close the underlying connection too. */
  close?: boolean;
}
/** Answer to event `seq` of a socket: completes it (releasing the next) and answers its ack if any. */
export interface ReplyCommand {
  type: 'reply';
  socketId: string;
  seq: number;
  result?: unknown;
  error?: AckError;
  bin?: true;
  /**
   * The event was not run: its batch named the client's state by a version the app-node could neither
   * find in its cache nor read from Redis (lost there). The io-node sends the event again, with the
   * state inline, instead of answering it.
   */
  resend?: true;
}
/**
 * Which sockets of the io-node that applies it a selection command is about: the members of `rooms`
 * (every socket when empty or absent) but those in `except` (rooms or socket ids: a socket id is a room
 * of one, so `{ rooms: [socketId] }` selects one socket). The reserved room `userRoom(id)` selects a user.
 */
export interface Selection {
  rooms?: string[];
  except?: string[];
}

/**
 * Makes a command a request: the io-node applying it answers on the reply path (`ReplySender`) to
 * `replyTo` (the requester's reply address) with a {@link NodeReply} carrying `id`. The requester knows
 * which io-nodes it sent the command to, so it knows whose answers to wait for.
 */
export interface RequestRef {
  id: string;
  replyTo: string;
}

/** The selected sockets join `rooms` (Socket.IO's `socketsJoin`). */
export interface SocketsJoinCommand {
  type: 'sockets-join';
  select: Selection;
  rooms: string[];
  /** Answered with `done` once applied and this node's routing counts are written. */
  request?: RequestRef;
}
/** The selected sockets leave `rooms` (Socket.IO's `socketsLeave`). */
export interface SocketsLeaveCommand {
  type: 'sockets-leave';
  select: Selection;
  rooms: string[];
  request?: RequestRef;
}
/** The selected sockets are disconnected (Socket.IO's `disconnectSockets`). */
export interface SocketsDisconnectCommand {
  type: 'sockets-disconnect';
  select: Selection;
  /** Close the underlying connections too. */
  close?: boolean;
  /**
   * Why, told to each client first as a `$error` `{ code: 'DISCONNECTED', message: reason }`; app-nodes'
   * `disconnect` handlers see `DISCONNECTED` as the reason.
   */
  reason?: string;
  request?: RequestRef;
}
/** Answered with the selected sockets' descriptions (Socket.IO's `fetchSockets`). */
export interface FetchSocketsCommand {
  type: 'fetch-sockets';
  select: Selection;
  request: RequestRef;
}
/**
 * Emits with an acknowledgement to one socket (`socketId`) or to a selection, each client given
 * `timeoutMs` to answer (Socket.IO's `timeout(ms).emitWithAck`); answered with every answer that came in
 * time and the sockets that did not answer.
 */
export interface EmitAckCommand {
  type: 'emit-ack';
  event: string;
  args: unknown[];
  bin?: true;
  socketId?: string;
  select?: Selection;
  timeoutMs: number;
  request: RequestRef;
}

/** An application-defined command an io-node handles with a hook registered under `name`. */
export interface CustomCommand {
  type: 'custom';
  name: string;
  payload: unknown;
  socketId?: string;
}

export type Command =
  | EmitCommand
  | JoinCommand
  | LeaveCommand
  | SetDataCommand
  | DisconnectCommand
  | ReplyCommand
  | CustomCommand
  | SocketsJoinCommand
  | SocketsLeaveCommand
  | SocketsDisconnectCommand
  | FetchSocketsCommand
  | EmitAckCommand;

/** The commands that apply to a {@link Selection} (routed to the io-nodes of its rooms). */
export type SelectionCommand =
  | SocketsJoinCommand
  | SocketsLeaveCommand
  | SocketsDisconnectCommand
  | FetchSocketsCommand
  | (EmitAckCommand & { select: Selection });

/** Longest an io-node waits for a client's ack: 10 minutes, past any sensible handler deadline. */
export const MAX_ACK_TIMEOUT_MS = 600_000;

export type CommandType = Command['type'];

/** What travels on a command channel: commands applied in array order. */
export interface CommandEnvelope {
  v: typeof COMMAND_VERSION;
  cmds: Command[];
}

function decodeCommand(value: unknown, path: string): Command {
  const v = object(value, path);
  switch (v.type) {
    case 'emit': {
      const cmd: EmitCommand = {
        type: 'emit',
        event: nonEmptyString(v.event, `${path}.event`),
        args: array(v.args, `${path}.args`),
      };
      if (v.bin === true) cmd.bin = true;
      if (v.socketId !== undefined) {
        cmd.socketId = nonEmptyString(v.socketId, `${path}.socketId`);
        if (v.rooms !== undefined || v.except !== undefined) {
          throw new WireError(`${path} targets a socket and rooms at once`);
        }
      }
      if (v.rooms !== undefined) cmd.rooms = stringArray(v.rooms, `${path}.rooms`);
      if (v.except !== undefined) cmd.except = stringArray(v.except, `${path}.except`);
      if (v.history !== undefined) {
        if (cmd.rooms?.length !== 1) throw new WireError(`${path}.history needs exactly one room`);
        cmd.history = position(v.history, `${path}.history`);
      }
      if (v.once !== undefined) cmd.once = nonEmptyString(v.once, `${path}.once`);
      if (v.volatile === true) {
        if (cmd.history) throw new WireError(`${path} is volatile and has a history position`);
        cmd.volatile = true;
      }
      return cmd;
    }
    case 'join': {
      const cmd: JoinCommand = {
        type: 'join',
        socketId: nonEmptyString(v.socketId, `${path}.socketId`),
        rooms: stringArray(v.rooms, `${path}.rooms`),
      };
      if (v.positions !== undefined) {
        cmd.positions = array(v.positions, `${path}.positions`).map((item, i) => {
          const at = `${path}.positions[${i}]`;
          const tuple = array(item, at);
          const epoch = string(tuple[1], `${at}[1]`, 64);
          const offset = integer(tuple[2], `${at}[2]`);
          if (offset < 0) throw new WireError(`${at}[2] must not be negative`);
          return [nonEmptyString(tuple[0], `${at}[0]`), epoch, offset];
        });
      }
      if (v.presence !== undefined) cmd.presence = checkPresenceMeta(v.presence, `${path}.presence`);
      if (v.rewind !== undefined) cmd.rewind = rewindSpec(v.rewind, `${path}.rewind`);
      return cmd;
    }
    case 'leave':
      return {
        type: v.type,
        socketId: nonEmptyString(v.socketId, `${path}.socketId`),
        rooms: stringArray(v.rooms, `${path}.rooms`),
      };
    case 'set-data':
      if (!isPlainObject(v.data)) throw new WireError(`${path}.data must be an object`);
      return { type: 'set-data', socketId: nonEmptyString(v.socketId, `${path}.socketId`), data: v.data };
    case 'disconnect':
      return {
        type: 'disconnect',
        socketId: nonEmptyString(v.socketId, `${path}.socketId`),
        close: v.close === true,
      };
    case 'reply': {
      const cmd: ReplyCommand = {
        type: 'reply',
        socketId: nonEmptyString(v.socketId, `${path}.socketId`),
        seq: integer(v.seq, `${path}.seq`),
      };
      if (v.error !== undefined) {
        const error = object(v.error, `${path}.error`);
        cmd.error = {
          code: string(error.code, `${path}.error.code`),
          message: string(error.message, `${path}.error.message`, 65_536),
        };
      } else if (v.result !== undefined) {
        cmd.result = v.result;
      }
      if (v.bin === true) cmd.bin = true;
      if (v.resend === true) cmd.resend = true;
      return cmd;
    }
    case 'custom': {
      const cmd: CustomCommand = {
        type: 'custom',
        name: nonEmptyString(v.name, `${path}.name`),
        payload: v.payload,
      };
      const socketId = optionalString(v.socketId, `${path}.socketId`);
      if (socketId !== undefined) cmd.socketId = socketId;
      return cmd;
    }
    case 'sockets-join':
    case 'sockets-leave': {
      const cmd: SocketsJoinCommand | SocketsLeaveCommand = {
        type: v.type,
        select: selection(v.select, `${path}.select`),
        rooms: stringArray(v.rooms, `${path}.rooms`),
      };
      if (v.request !== undefined) cmd.request = requestRef(v.request, `${path}.request`);
      return cmd;
    }
    case 'sockets-disconnect': {
      const cmd: SocketsDisconnectCommand = {
        type: 'sockets-disconnect',
        select: selection(v.select, `${path}.select`),
        close: v.close === true,
      };
      if (v.reason !== undefined) cmd.reason = string(v.reason, `${path}.reason`);
      if (v.request !== undefined) cmd.request = requestRef(v.request, `${path}.request`);
      return cmd;
    }
    case 'fetch-sockets':
      return {
        type: 'fetch-sockets',
        select: selection(v.select, `${path}.select`),
        request: requestRef(v.request, `${path}.request`),
      };
    case 'emit-ack': {
      const timeoutMs = integer(v.timeoutMs, `${path}.timeoutMs`);
      if (timeoutMs > MAX_ACK_TIMEOUT_MS)
        throw new WireError(`${path}.timeoutMs is above ${MAX_ACK_TIMEOUT_MS}`);
      const cmd: EmitAckCommand = {
        type: 'emit-ack',
        event: nonEmptyString(v.event, `${path}.event`),
        args: array(v.args, `${path}.args`),
        timeoutMs,
        request: requestRef(v.request, `${path}.request`),
      };
      if (v.bin === true) cmd.bin = true;
      if (v.socketId !== undefined) cmd.socketId = nonEmptyString(v.socketId, `${path}.socketId`);
      if (v.select !== undefined) cmd.select = selection(v.select, `${path}.select`);
      if ((cmd.socketId === undefined) === (cmd.select === undefined)) {
        throw new WireError(`${path} must target either a socket or a selection`);
      }
      return cmd;
    }
    default:
      throw new WireError(`${path}.type "${show(v.type)}" is not a known command`);
  }
}

function rewindSpec(value: unknown, path: string): RewindSpec {
  const v = object(value, path);
  const spec: RewindSpec = {};
  if (v.count !== undefined) {
    const count = integer(v.count, `${path}.count`);
    if (count < 1 || count > MAX_REWIND) throw new WireError(`${path}.count must be 1 to ${MAX_REWIND}`);
    spec.count = count;
  }
  if (v.ms !== undefined) {
    const ms = integer(v.ms, `${path}.ms`);
    if (ms < 1) throw new WireError(`${path}.ms must be positive`);
    spec.ms = ms;
  }
  if (spec.count === undefined && spec.ms === undefined) throw new WireError(`${path} needs count or ms`);
  return spec;
}

function selection(value: unknown, path: string): Selection {
  const v = object(value, path);
  const select: Selection = {};
  if (v.rooms !== undefined) select.rooms = stringArray(v.rooms, `${path}.rooms`);
  if (v.except !== undefined) select.except = stringArray(v.except, `${path}.except`);
  return select;
}

function requestRef(value: unknown, path: string): RequestRef {
  const v = object(value, path);
  return {
    id: nonEmptyString(v.id, `${path}.id`, 128),
    replyTo: nonEmptyString(v.replyTo, `${path}.replyTo`, 256),
  };
}

/** The selection a command applies to, if it is a selection command. */
export function selectionOf(cmd: Command): Selection | undefined {
  switch (cmd.type) {
    case 'sockets-join':
    case 'sockets-leave':
    case 'sockets-disconnect':
    case 'fetch-sockets':
      return cmd.select;
    case 'emit-ack':
      return cmd.select;
    default:
      return undefined;
  }
}

/** The request a command carries, if it asks for an answer. */
export function requestOf(cmd: Command): RequestRef | undefined {
  return 'request' in cmd ? cmd.request : undefined;
}

function position(value: unknown, path: string): HistoryPosition {
  const v = object(value, path);
  const offset = integer(v.offset, `${path}.offset`);
  if (offset < 0) throw new WireError(`${path}.offset must not be negative`);
  return { epoch: nonEmptyString(v.epoch, `${path}.epoch`, 64), offset };
}

/** Result of decoding an envelope: the valid commands in order, and one error per command dropped. */
export interface DecodedEnvelope {
  cmds: Command[];
  errors: WireError[];
}

/**
 * Decodes a command message. A malformed envelope yields no commands and one error; a malformed
 * command inside a valid envelope is dropped on its own so the others still apply.
 */
export function decodeCommandEnvelope(raw: string): DecodedEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    return { cmds: [], errors: [new WireError('command message is not JSON', { cause })] };
  }
  try {
    const v = object(parsed, 'envelope');
    version(v.v, COMMAND_VERSION, 'envelope');
    const list = array(v.cmds, 'envelope.cmds');
    const cmds: Command[] = [];
    const errors: WireError[] = [];
    for (let i = 0; i < list.length; i++) {
      try {
        cmds.push(decodeCommand(list[i], `envelope.cmds[${i}]`));
      } catch (err) {
        errors.push(err instanceof WireError ? err : new WireError(String(err), { cause: err }));
      }
    }
    return { cmds, errors };
  } catch (err) {
    return {
      cmds: [],
      errors: [err instanceof WireError ? err : new WireError(String(err), { cause: err })],
    };
  }
}

/** Serialises commands into one envelope. */
export function encodeCommandEnvelope(cmds: readonly Command[]): string {
  return JSON.stringify({ v: COMMAND_VERSION, cmds });
}
