import { type ChildProcess, fork } from 'node:child_process';
import { WORKER_INDEX_VAR } from './config.js';
import { IoclusterError } from './errors.js';
import { settleWithin } from './lifecycle.js';
import type { Logger } from './logger.js';
import { withDefaults } from './options.js';
import { announceReady, runUntilSignal } from './process.js';
import { exitAfterStartFailure } from './start-failure.js';

/*
 * Why child_process.fork and not node:cluster: every io-node worker must be a node of its own, with its
 * own port and registry record, so that the frontend spreads clients over them without sticky routing.
 * node:cluster is built for the opposite, one listening socket shared by all workers: its workers'
 * listen() goes through the primary, and `listen(0)` hands every worker the SAME "random" port. Forking
 * the same main with an index in the environment gives each worker its own socket and nothing to undo.
 */

/** How long workers get to drain after SIGTERM before SIGKILL (see `SHUTDOWN_BOUND_MS`, below it). */
const DRAIN_TIMEOUT_MS = 30_000;
/** How long a SIGKILLed worker's exit is waited for. */
const KILLED_EXIT_WAIT_MS = 5_000;

/** Options of {@link createWorkerSupervisor}. */
export interface WorkerSupervisorOptions {
  /** How many workers run at once (at least 1). */
  workers: number;
  /** The module every worker runs: the main's own file (`process.argv[1]`). */
  module: string;
  /** Arguments of every worker. @defaultValue [] */
  args?: readonly string[];
  /** Node options of every worker (`process.execArgv` runs them like the supervisor). @defaultValue [] */
  execArgv?: readonly string[];
  /** The environment every worker starts from (main passes its own; this module never reads it). */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Variables of worker `index` in its `incarnation` (0 at start, then one more per restart), added to
   * `env`. `IOCLUSTER_WORKER_INDEX` is always set as well, so the worker runs one node and never
   * supervises. @defaultValue none
   */
  workerEnv?: (index: number, incarnation: number) => Record<string, string>;
  /** First restart delay after a crash; each crash in a row doubles it. @defaultValue 1000 */
  restartMinMs?: number;
  /** Longest restart delay. @defaultValue 30000 */
  restartMaxMs?: number;
  /** A worker that stayed up this long before crashing restarts after `restartMinMs` again. @defaultValue 30000 */
  stableAfterMs?: number;
  /** A worker that has not announced ready by then is killed (and counts as crashed). @defaultValue 60000 */
  readyTimeoutMs?: number;
  /** How long `close()` waits for workers to drain after SIGTERM before SIGKILL. @defaultValue 30000 */
  drainTimeoutMs?: number;
  logger: Logger;
}

/** A worker that announced ready: what it said (`nodeId`, `url`, `port`...) and who it is. */
export interface WorkerInfo {
  readonly index: number;
  readonly incarnation: number;
  readonly pid: number;
  /** Its ready message (`announceReady`) without `type`. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** Runs N copies of a main as child processes, restarts crashed ones, drains them all on close. */
export interface WorkerSupervisor {
  /** Workers that are up and ready now, by index. */
  readonly workers: readonly WorkerInfo[];
  /**
   * Forks every worker; resolves once all announced ready. If one exits or times out first, the others are
   * stopped and it rejects with a `WORKER_FAILED` error: a worker that cannot even start is a
   * configuration problem, which restarting would only hide.
   */
  start(): Promise<WorkerInfo[]>;
  /** SIGTERM to every worker, waits for their exits (`drainTimeoutMs`, then SIGKILL). Idempotent. */
  close(): Promise<void>;
}

interface Slot {
  readonly index: number;
  incarnation: number;
  /** Crashes in a row, for the backoff; reset once a worker stayed up `stableAfterMs`. */
  crashes: number;
  child?: ChildProcess;
  info?: WorkerInfo;
  readyAt?: number;
  restartTimer?: NodeJS.Timeout;
  exited?: Promise<void>;
}

function isReadyMessage(message: unknown): message is { type: 'ready' } & Record<string, unknown> {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ready';
}

export function createWorkerSupervisor(options: WorkerSupervisorOptions): WorkerSupervisor {
  const opts = withDefaults(
    {
      args: [] as readonly string[],
      execArgv: [] as readonly string[],
      workerEnv: (() => ({})) as NonNullable<WorkerSupervisorOptions['workerEnv']>,
      restartMinMs: 1_000,
      restartMaxMs: 30_000,
      stableAfterMs: 30_000,
      readyTimeoutMs: 60_000,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
    },
    options,
  );
  const logger = opts.logger.child({ component: 'worker-supervisor' });
  const slots: Slot[] = Array.from({ length: opts.workers }, (_, index) => ({
    index,
    incarnation: 0,
    crashes: 0,
  }));
  let closing: Promise<void> | undefined;
  let started = false;

  /** Forks the slot's worker; resolves when it is ready, rejects when it exits (or times out) before. */
  function spawn(slot: Slot): Promise<WorkerInfo> {
    const child = fork(opts.module, [...opts.args], {
      execArgv: [...opts.execArgv],
      env: {
        ...opts.env,
        ...opts.workerEnv(slot.index, slot.incarnation),
        [WORKER_INDEX_VAR]: String(slot.index),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Its own process group: a Ctrl-C in a terminal reaches only the supervisor, which forwards one
      // SIGTERM; a worker that saw both would take the second as "exit now" and skip its drain.
      detached: true,
    });
    slot.child = child;
    slot.info = undefined;
    slot.readyAt = undefined;
    slot.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    return new Promise<WorkerInfo>((resolve, reject) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.readyTimeoutMs);
      child.on('message', (message: unknown) => {
        if (!isReadyMessage(message) || slot.child !== child || slot.info) return;
        clearTimeout(timer);
        const { type: _type, ...details } = message;
        slot.info = { index: slot.index, incarnation: slot.incarnation, pid: child.pid!, details };
        slot.readyAt = Date.now();
        resolve(slot.info);
      });
      child.once('error', (err) => {
        if (child.pid === undefined) {
          clearTimeout(timer);
          reject(
            new IoclusterError('WORKER_FAILED', `worker ${slot.index} could not be forked`, { cause: err }),
          );
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const wasReady = slot.info !== undefined;
        if (slot.child === child) {
          slot.child = undefined;
          slot.info = undefined;
        }
        if (!wasReady) {
          reject(
            new IoclusterError(
              'WORKER_FAILED',
              `worker ${slot.index} (pid ${child.pid}) exited (${code ?? signal}) before it was ready; its last line says why`,
            ),
          );
        }
        // Not restarted: anything during close, and a first start that failed (start() reports it).
        if (closing || (!started && !wasReady)) return;
        onCrash(slot, child.pid, code, signal, wasReady);
      });
    });
  }

  function onCrash(
    slot: Slot,
    pid: number | undefined,
    code: number | null,
    signal: string | null,
    wasReady: boolean,
  ) {
    const uptimeMs = slot.readyAt === undefined ? 0 : Date.now() - slot.readyAt;
    if (wasReady && uptimeMs >= opts.stableAfterMs) slot.crashes = 0;
    const restartInMs = Math.min(opts.restartMaxMs, opts.restartMinMs * 2 ** slot.crashes);
    slot.crashes++;
    logger.warn(
      { worker: slot.index, pid, code, signal, uptimeMs, restartInMs, crashesInARow: slot.crashes },
      'worker exited; restarting it',
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (closing) return;
      slot.incarnation++;
      spawn(slot).then(
        (info) =>
          logger.info(
            { worker: slot.index, pid: info.pid, incarnation: info.incarnation, ...info.details },
            'worker restarted',
          ),
        // Its exit has already been handled (logged, next restart scheduled).
        () => undefined,
      );
    }, restartInMs);
  }

  async function stopAll(): Promise<void> {
    for (const slot of slots) clearTimeout(slot.restartTimer);
    const live = slots.filter(
      (slot) => slot.child && slot.child.exitCode === null && slot.child.signalCode === null,
    );
    for (const slot of live) slot.child?.kill('SIGTERM');
    const exits = live.map((slot) => slot.exited);
    await settleWithin(Promise.all(exits), opts.drainTimeoutMs);
    const stuck = live.filter((slot) => slot.child);
    if (stuck.length > 0) {
      logger.warn(
        { workers: stuck.map((slot) => slot.index) },
        `workers still running after ${opts.drainTimeoutMs} ms: killing them`,
      );
      for (const slot of stuck) slot.child?.kill('SIGKILL');
      await settleWithin(Promise.all(stuck.map((slot) => slot.exited)), KILLED_EXIT_WAIT_MS);
    }
  }

  return {
    get workers() {
      return slots.flatMap((slot) => (slot.info ? [slot.info] : []));
    },

    async start() {
      if (started || closing) throw new Error('worker supervisor already started');
      try {
        const infos = await Promise.all(slots.map((slot) => spawn(slot)));
        started = true;
        logger.info(
          { workers: infos.map((info) => ({ worker: info.index, pid: info.pid, ...info.details })) },
          'workers ready',
        );
        return infos;
      } catch (err) {
        closing ??= stopAll();
        await closing;
        throw err;
      }
    },

    close() {
      closing ??= (async () => {
        logger.info({ workers: slots.filter((slot) => slot.child).length }, 'stopping workers');
        await stopAll();
        logger.info('workers stopped');
      })();
      return closing;
    },
  };
}

/**
 * For a main that was asked for more than one worker: supervises them until SIGTERM/SIGINT (forwarded
 * as SIGTERM to every worker, then exit 0 once all exited), and announces ready, with every worker's
 * ready message, once all are up. Exits 1 when the workers cannot start.
 */
export async function runWorkers(options: WorkerSupervisorOptions): Promise<void> {
  const supervisor = createWorkerSupervisor(options);
  let signalled = false;
  // Its workers get their drain, then SIGKILL and 5 s to go: only then does the supervisor give up.
  const drainTimeoutMs = options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
  runUntilSignal(
    options.logger,
    () => {
      signalled = true;
      return supervisor.close();
    },
    { boundMs: drainTimeoutMs + KILLED_EXIT_WAIT_MS + 1_000 },
  );
  let workers: WorkerInfo[];
  try {
    workers = await supervisor.start();
  } catch (err) {
    // A signal during start stops the workers, and runUntilSignal exits when they are gone.
    if (signalled) return;
    exitAfterStartFailure(options.logger, err);
  }
  announceReady({
    workers: workers.map((info) => ({ index: info.index, pid: info.pid, ...info.details })),
  });
}

/**
 * For a worker's main: when its supervisor disappears (even by SIGKILL, so the IPC channel closes), the
 * worker drains and exits as on SIGTERM instead of living on unsupervised.
 */
export function exitWithSupervisor(): void {
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
