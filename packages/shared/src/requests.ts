import { randomBytes } from 'node:crypto';
import { IoclusterError } from './errors.js';
import type { ReplyInbox } from './transport/replies.js';
import type { RequestRef } from './wire/commands.js';
import type { ReplyResult } from './wire/replies.js';

/** How a request ended: each answering io-node's result, and the io-nodes that did not answer in time. */
export interface RequestOutcome {
  replies: Map<string, ReplyResult>;
  /** io-nodes the request went to whose answer did not come before the timeout (dead, cut off, slow). */
  missing: string[];
}

/** One request under way: its reference for the command, and the outcome once every target answered. */
export interface PendingRequest {
  /** What the request command carries (`request`). */
  readonly ref: RequestRef;
  /**
   * The io-nodes the command was appended for (the publisher's planned targets, less those without an
   * inbox): the request ends once each answered. Answers that came before are kept. Called once.
   */
  expect(nodes: readonly string[]): void;
  /** The command could not be sent: the outcome rejects with `err`. */
  fail(err: unknown): void;
  /** Resolves once every expected io-node answered, or at the timeout with the others in `missing`. */
  readonly outcome: Promise<RequestOutcome>;
}

/**
 * Matches io-nodes' replies to requests, for any process that sends request commands: it opens a
 * request (an id under its reply address), the sender says which io-nodes the command went to, and the
 * request resolves when all of them answered, or at its timeout naming those that did not (a dead io-node
 * never hangs it).
 */
export interface Requester {
  /** The reply address requests carry as `replyTo`. */
  readonly address: string;
  /** Opens a request that ends at the latest `timeoutMs` from now. */
  open(timeoutMs: number): PendingRequest;
  /** Requests under way. */
  readonly pending: number;
  /** Starts receiving replies. */
  start(): Promise<void>;
  /** Ends every request under way (with its missing nodes) and closes the inbox. Idempotent. */
  close(): Promise<void>;
}

interface Open {
  expected: Set<string> | undefined;
  replies: Map<string, ReplyResult>;
  timer: NodeJS.Timeout;
  settle: (outcome: RequestOutcome | Error) => void;
}

/** A reply address unique to this process: `<name>:<random>`, so a restarted process never gets old replies. */
export function replyAddress(name: string): string {
  return `${name}:${randomBytes(6).toString('base64url')}`;
}

export function createRequester(inbox: ReplyInbox): Requester {
  const open = new Map<string, Open>();
  let counter = 0;
  let stop: (() => void) | undefined;
  let closed = false;

  function finish(id: string, entry: Open, late: boolean): void {
    open.delete(id);
    clearTimeout(entry.timer);
    if (!entry.expected) {
      entry.settle(new IoclusterError('TIMEOUT', 'the request was not sent before its timeout'));
      return;
    }
    const missing = late ? [...entry.expected].filter((node) => !entry.replies.has(node)) : [];
    entry.settle({ replies: entry.replies, missing });
  }

  function complete(id: string, entry: Open): void {
    if (entry.expected && [...entry.expected].every((node) => entry.replies.has(node))) {
      finish(id, entry, false);
    }
  }

  return {
    address: inbox.address,
    get pending() {
      return open.size;
    },
    open(timeoutMs) {
      const id = `${++counter}`;
      let settle!: (outcome: RequestOutcome | Error) => void;
      const outcome = new Promise<RequestOutcome>((resolve, reject) => {
        settle = (value) => (value instanceof Error ? reject(value) : resolve(value));
      });
      const ref: RequestRef = { id, replyTo: inbox.address };
      if (closed) {
        settle(new IoclusterError('NODE_CLOSING', 'the requester is closed'));
        return { ref, expect: () => undefined, fail: () => undefined, outcome };
      }
      const entry: Open = {
        expected: undefined,
        replies: new Map(),
        timer: setTimeout(() => finish(id, entry, true), Math.max(0, timeoutMs)),
        settle,
      };
      open.set(id, entry);
      return {
        ref,
        outcome,
        expect(nodes) {
          if (entry.expected || open.get(id) !== entry) return;
          entry.expected = new Set(nodes);
          complete(id, entry);
        },
        fail(err) {
          if (open.get(id) !== entry) return;
          open.delete(id);
          clearTimeout(entry.timer);
          settle(err instanceof Error ? err : new Error(String(err)));
        },
      };
    },
    async start() {
      stop ??= inbox.onReply((reply) => {
        const entry = open.get(reply.id);
        if (!entry) return;
        entry.replies.set(reply.node, reply.result);
        complete(reply.id, entry);
      });
      await inbox.start();
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const [id, entry] of [...open]) finish(id, entry, true);
      stop?.();
      await inbox.close();
    },
  };
}
