import { AsyncLocalStorage } from 'node:async_hooks';
import type { CommandPublisher } from '@iocluster/shared';
import { IoclusterError, type Logger } from '@iocluster/shared';

/*
 * A handler cut off at its time limit keeps running (a promise cannot be cancelled), but once its event
 * was answered TIMEOUT the client's next event may run, on any app-node: whatever the late handler then
 * emits, joins or changes would land after the next handler's effects. So every handler runs inside a
 * fence (an AsyncLocalStorage context that follows its awaits and timers), and the app-node's publisher
 * drops, with a log line, any command published from a fence that was closed.
 */

/** One run of middleware and handler for one client event. */
interface Fence {
  readonly event: string;
  readonly socketId: string;
  readonly seq: number;
  /** When the run's time is up (performance.now()). */
  readonly deadline: number;
  closed: boolean;
  dropped: number;
}

const fences = new AsyncLocalStorage<Fence>();

/** What the run is, for the log line about its dropped commands. */
export interface FencedRun {
  event: string;
  socketId: string;
  seq: number;
  /** Longest the run may take (ms); 0 or less: it does not run at all. */
  limitMs: number;
  /** The TIMEOUT message when it runs out. */
  timeoutMessage: string;
}

/**
 * Runs `fn` fenced and waits for it at most `run.limitMs`; then rejects with a TIMEOUT error and closes
 * the fence, so nothing the run publishes afterwards goes out.
 */
export function runFenced<T>(run: FencedRun, fn: () => T | PromiseLike<T>): Promise<T> {
  const fence: Fence = {
    event: run.event,
    socketId: run.socketId,
    seq: run.seq,
    deadline: performance.now() + run.limitMs,
    closed: false,
    dropped: 0,
  };
  const timeout = () => new IoclusterError('TIMEOUT', run.timeoutMessage);
  if (run.limitMs <= 0) {
    fence.closed = true;
    return Promise.reject(timeout());
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      fence.closed = true;
      reject(timeout());
    }, run.limitMs);
    fences.run(fence, () => {
      Promise.resolve()
        .then(fn)
        .then(
          (value) => {
            clearTimeout(timer);
            resolve(value);
          },
          (err: unknown) => {
            clearTimeout(timer);
            reject(err);
          },
        );
    });
  });
}

/**
 * The publisher handlers see: drops (and logs) a command published from a run whose fence was closed,
 * ends a request (an ack awaited, sockets fetched) made from a run by the run's deadline at the latest,
 * and passes everything else on unchanged.
 */
export function fencedPublisher(publisher: CommandPublisher, logger: Logger): CommandPublisher {
  return {
    ...publisher,
    publish(nodeId, cmd) {
      const fence = fences.getStore();
      if (fence?.closed) {
        fence.dropped++;
        logger.warn(
          {
            event: fence.event,
            socketId: fence.socketId,
            seq: fence.seq,
            command: cmd.type,
            dropped: fence.dropped,
          },
          'command of a handler past its time limit dropped',
        );
        return [];
      }
      return publisher.publish(nodeId, cmd);
    },
    request(nodeId, build, waitMs, marginMs = 0) {
      const fence = fences.getStore();
      if (!fence) return publisher.request(nodeId, build, waitMs, marginMs);
      const left = Math.floor(fence.deadline - performance.now());
      if (fence.closed || left <= 0) {
        return Promise.reject(new IoclusterError('TIMEOUT', 'the handler’s time limit is up'));
      }
      const wait = Math.min(waitMs, left);
      return publisher.request(nodeId, build, wait, Math.min(marginMs, left - wait));
    },
  };
}
