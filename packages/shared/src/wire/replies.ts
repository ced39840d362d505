import { type AckError, WireError } from '../errors.js';
import { array, integer, nonEmptyString, object, show, string, stringArray, version } from './check.js';
import { type ClientInfo, decodeClientInfo } from './client-info.js';

export const REPLY_VERSION = 1;

/** A socket as `fetchSockets` describes it: a {@link ClientInfo} without its session secret. */
export type SocketDescription = Omit<ClientInfo, 'session' | 'origin'>;

/** One client's answer to an `emit-ack`: the arguments it passed its ack callback. */
export interface AckAnswer {
  socketId: string;
  args: unknown[];
  bin?: true;
}

/** What an io-node answers a request command with. */
export type ReplyResult =
  /** `fetch-sockets`: the selected sockets it holds. */
  | { type: 'sockets'; sockets: SocketDescription[] }
  /** `sockets-join` / `sockets-leave` / `sockets-disconnect`: applied, to `count` sockets. */
  | { type: 'done'; count: number }
  /** `emit-ack`: the answers that came in time, and the sockets that did not answer. */
  | { type: 'acks'; answers: AckAnswer[]; missing: string[] }
  /** The request could not be applied on this node. */
  | { type: 'error'; error: AckError };

/** One io-node's answer to one request, sent on the reply path to the requester's address. */
export interface NodeReply {
  v: typeof REPLY_VERSION;
  /** The request's id (`RequestRef.id`). */
  id: string;
  /** The io-node answering. */
  node: string;
  result: ReplyResult;
}

function decodeResult(value: unknown, path: string): ReplyResult {
  const v = object(value, path);
  switch (v.type) {
    case 'sockets':
      return {
        type: 'sockets',
        sockets: array(v.sockets, `${path}.sockets`).map((item, i) => {
          const {
            session: _session,
            origin: _origin,
            ...info
          } = decodeClientInfo(item, `${path}.sockets[${i}]`);
          return info;
        }),
      };
    case 'done':
      return { type: 'done', count: integer(v.count, `${path}.count`) };
    case 'acks':
      return {
        type: 'acks',
        answers: array(v.answers, `${path}.answers`).map((item, i) => {
          const at = `${path}.answers[${i}]`;
          const answer = object(item, at);
          const result: AckAnswer = {
            socketId: nonEmptyString(answer.socketId, `${at}.socketId`),
            args: array(answer.args, `${at}.args`),
          };
          if (answer.bin === true) result.bin = true;
          return result;
        }),
        missing: stringArray(v.missing, `${path}.missing`),
      };
    case 'error': {
      const error = object(v.error, `${path}.error`);
      return {
        type: 'error',
        error: {
          code: string(error.code, `${path}.error.code`),
          message: string(error.message, `${path}.error.message`, 65_536),
        },
      };
    }
    default:
      throw new WireError(`${path}.type "${show(v.type)}" is not a known reply`);
  }
}

/** Decodes a reply from the reply path; throws a WireError naming what is wrong. */
export function decodeNodeReply(raw: string): NodeReply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new WireError('reply is not JSON', { cause });
  }
  const v = object(parsed, 'reply');
  version(v.v, REPLY_VERSION, 'reply');
  return {
    v: REPLY_VERSION,
    id: nonEmptyString(v.id, 'reply.id', 128),
    node: nonEmptyString(v.node, 'reply.node'),
    result: decodeResult(v.result, 'reply.result'),
  };
}

/** Serialises a reply. */
export function encodeNodeReply(id: string, node: string, result: ReplyResult): string {
  const reply: NodeReply = { v: REPLY_VERSION, id, node, result };
  return JSON.stringify(reply);
}
