import type { NodeReply, ReplyResult } from '../wire/replies.js';

/**
 * The requester's side of the reply path: an address (`RequestRef.replyTo`) and the replies io-nodes
 * send to it. Any process that sends request commands (an app-node, an emitter) opens one.
 *
 * Every implementation must deliver each reply sent to its address after `start()` resolved, at most
 * once, and decode it with the wire decoder (a malformed one is dropped with a log line). It does not
 * keep replies sent while it was not started or its connection was down (they are lost: a requester
 * waits with a timeout, see `Requester`), and it does not match replies to requests.
 */
export interface ReplyInbox {
  /** What request commands carry as `replyTo`. */
  readonly address: string;
  /** Starts receiving; resolves once a reply sent from now on is received. */
  start(): Promise<void>;
  /** Registers the handler of every reply; returns the unsubscribe function. */
  onReply(handler: (reply: NodeReply) => void): () => void;
  /** Stops receiving. Idempotent. */
  close(): Promise<void>;
}

/**
 * The io-node's side of the reply path: sends one node's answer to a request to its requester. It never
 * throws for an address nobody listens on (the requester is gone: the answer is dropped).
 */
export interface ReplySender {
  send(replyTo: string, id: string, result: ReplyResult): Promise<void>;
}
