import { ClientError } from './errors.js';

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
