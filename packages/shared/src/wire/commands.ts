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
}
export interface JoinCommand {
  type: 'join';
  socketId: string;
  rooms: string[];
}
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
  | CustomCommand;

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
      return cmd;
    }
    case 'join':
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
    default:
      throw new WireError(`${path}.type "${show(v.type)}" is not a known command`);
  }
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
