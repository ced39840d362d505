import { IDENTIFIED_EVENT } from '@iocluster/shared/protocol';
import type { Socket } from 'socket.io-client';
import { ClientError } from './errors.js';
import type { Pacer } from './pacer.js';

/** An `emitWithAck` waiting for its answer: settled once, by the ack, a timeout, a drop or `close()`. */
export interface PendingAck {
  resolve(value: unknown): void;
  reject(err: Error): void;
  readonly settled: boolean;
}

/** An emit waiting for a connection, or sent and waiting for its ack. */
export interface Outgoing {
  readonly event: string;
  readonly args: unknown[];
  /** A plain ack callback given to `emit` (passed through untouched). */
  readonly callback?: (...results: unknown[]) => void;
  /** Set for `emitWithAck`. */
  readonly pending?: PendingAck;
  /** With recovery: the event's id, given when first sent, and whether it is being sent again. */
  eid?: string;
  resent?: boolean;
}

/** Creates a {@link PendingAck} around a promise, with an optional timeout (0 = none). */
export function createPendingAck(
  event: string,
  timeoutMs: number,
  onSettle: (pending: PendingAck) => void,
): { pending: PendingAck; promise: Promise<unknown> } {
  let resolveFn!: (value: unknown) => void;
  let rejectFn!: (err: Error) => void;
  const promise = new Promise<unknown>((resolve, reject) => {
    resolveFn = resolve;
    rejectFn = reject;
  });
  let settled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settle = (fn: () => void) => {
    if (settled) return;
    settled = true;
    if (timer !== undefined) clearTimeout(timer);
    fn();
    onSettle(pending);
  };
  const pending: PendingAck = {
    resolve: (value) => settle(() => resolveFn(value)),
    reject: (err) => settle(() => rejectFn(err)),
    get settled() {
      return settled;
    },
  };
  if (timeoutMs > 0) {
    timer = setTimeout(
      () => pending.reject(new ClientError('TIMEOUT', `"${event}" got no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  }
  return { pending, promise };
}

/**
 * The client's emits: queued while (re)connecting, sent in order once connected, tracked until answered.
 * With recovery (`ids`), every event goes out as `$e (eid, resent, event, ...args)` with an ack, so the
 * ones a dropped connection left unanswered can be sent again first after the reconnection. Sends wait
 * for the `pacer` (the node's rate limit): one that must wait queues, and everything after it too.
 */
export class Outbox {
  private readonly queue: Outgoing[] = [];
  private readonly inflight = new Set<PendingAck>();
  /** With ids: what was sent on the current connection and not answered yet, in send order. */
  private readonly unanswered = new Set<Outgoing>();
  /** Sends the queue on when the pacer has a token again. */
  private pacing: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly maxQueued: number,
    /** Gives events ids (recovery on); undefined: plain Socket.IO emits. */
    private readonly ids: { next(): string } | undefined,
    private readonly pacer: Pacer,
  ) {}

  /** Emits waiting for a connection. */
  get queued(): number {
    return this.queue.length;
  }

  /** Throws `QUEUE_FULL` unless another emit may wait. */
  assertRoom(): void {
    if (this.queue.length >= this.maxQueued) {
      throw new ClientError(
        'QUEUE_FULL',
        `${this.queue.length} emits already wait for a connection (maxQueued ${this.maxQueued})`,
      );
    }
  }

  /** Sends on `socket` (when nothing waits before it and the pacer allows), or queues. */
  push(socket: Socket | undefined, item: Outgoing): void {
    if (socket && this.queue.length === 0 && this.pacer.take() === 0) {
      this.send(socket, item);
      return;
    }
    this.assertRoom();
    this.queue.push(item);
    if (socket) this.drain(socket);
  }

  /** A new connection: sends what waited, in order, as fast as the node's (full again) bucket allows. */
  flush(socket: Socket): void {
    this.pacer.reset();
    this.drain(socket);
  }

  /** An `emitWithAck` settled (answer, timeout): it no longer waits anywhere. */
  settled(pending: PendingAck): void {
    this.inflight.delete(pending);
    const index = this.queue.findIndex((item) => item.pending === pending);
    if (index >= 0) this.queue.splice(index, 1);
  }

  /**
   * The connection dropped: with ids, the unanswered events wait again (first, in their order, marked
   * `resent`); without, the acks in flight reject with `error`.
   */
  dropped(error: ClientError): void {
    this.stopPacing();
    if (this.ids) {
      const again = [...this.unanswered].filter((item) => !item.pending?.settled);
      this.unanswered.clear();
      for (const item of again) {
        item.resent = true;
        if (item.pending) this.inflight.delete(item.pending);
      }
      this.queue.unshift(...again);
    }
    for (const pending of [...this.inflight]) pending.reject(error);
  }

  /** Rejects everything waiting or in flight (close, or no node to be had). */
  rejectAll(error: ClientError, inflightToo: boolean): void {
    this.stopPacing();
    for (const item of this.queue.splice(0)) item.pending?.reject(error);
    if (inflightToo) for (const pending of [...this.inflight]) pending.reject(error);
  }

  /** Sends queued items while the pacer has tokens; then waits for the next one. */
  private drain(socket: Socket): void {
    this.stopPacing();
    while (this.queue.length > 0) {
      const wait = this.pacer.take();
      if (wait > 0) {
        this.pacing = setTimeout(() => {
          this.pacing = undefined;
          if (socket.connected) this.drain(socket);
        }, wait);
        return;
      }
      this.send(socket, this.queue.shift()!);
    }
  }

  private stopPacing(): void {
    clearTimeout(this.pacing);
    this.pacing = undefined;
  }

  private send(socket: Socket, item: Outgoing): void {
    const { pending } = item;
    if (pending?.settled) return;
    if (pending) this.inflight.add(pending);
    if (this.ids) {
      item.eid ??= this.ids.next();
      this.unanswered.add(item);
      // Every identified event is acknowledged, so the client knows which ones a drop left unanswered.
      const answered = (result: unknown) => {
        this.unanswered.delete(item);
        if (pending) pending.resolve(result);
        else item.callback?.(result);
      };
      socket.emit(IDENTIFIED_EVENT, item.eid, item.resent === true, item.event, ...item.args, answered);
    } else if (pending) {
      socket.emit(item.event, ...item.args, (result: unknown) => pending.resolve(result));
    } else if (item.callback) {
      socket.emit(item.event, ...item.args, item.callback);
    } else {
      socket.emit(item.event, ...item.args);
    }
  }
}
