import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { DevkitError, type DevkitErrorCode } from './errors.js';
import { describeExit, type ExitStatus, exitOf, isRunning, outputClosed } from './exit-status.js';
import { readLines } from './output-lines.js';
import { redisCommand } from './redis-probe.js';

/** The Redis programs the tooling runs, and the error and Debian package when one is missing. */
const PROGRAMS = {
  'redis-server': { code: 'REDIS_SERVER_NOT_FOUND', debian: 'redis-server' },
  'redis-sentinel': { code: 'REDIS_SENTINEL_NOT_FOUND', debian: 'redis-sentinel' },
} as const satisfies Record<string, { code: DevkitErrorCode; debian: string }>;

/** How to run one Redis process (a server or a sentinel) on a port of 127.0.0.1. */
export interface RedisProcessSpec {
  readonly program: keyof typeof PROGRAMS;
  /** Its whole command line after the program name (config file first, then `--option value` pairs). */
  readonly args: readonly string[];
  readonly port: number;
  /** Receives every line it writes. */
  readonly output?: ((line: string) => void) | undefined;
  /** Run it in a process group of its own. */
  readonly detached?: boolean | undefined;
  /** How long it may take to answer; then it is killed. */
  readonly readyTimeoutMs: number;
  /** Runs after every start, once it answers (settings that do not survive a restart). */
  readonly afterStart?: ((url: string) => Promise<void>) | undefined;
}

/**
 * A Redis process this process started and owns (by its PID only), with the controls tests use to
 * break it: crash, graceful stop, restart on the same port, freeze and thaw.
 */
export interface RedisProcess {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** PID of the current process (a new one after each start). */
  readonly pid: number;
  /** The current process. */
  readonly child: ChildProcess;
  /** Resolves when the current process exited. */
  readonly exited: Promise<ExitStatus>;
  /** Is it stopped by {@link RedisProcess.freeze} (SIGSTOP) right now? */
  readonly frozen: boolean;
  /**
   * Sends `signal` unless it already exited, and waits for the exit. SIGKILL (a crash) by default;
   * SIGTERM is Redis's graceful shutdown (as SHUTDOWN: it flushes the AOF). A frozen process is thawed
   * after the signal so that the signal takes effect. Idempotent.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same arguments (and directory); does nothing while it runs. */
  start(): Promise<void>;
  /** {@link RedisProcess.stop} with `signal` (SIGKILL by default), then {@link RedisProcess.start}. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: it keeps its connections but answers nothing, like a stalled host. */
  freeze(): void;
  /** SIGCONT after {@link RedisProcess.freeze}. */
  thaw(): void;
}

const READY_LINE = 'Ready to accept connections';
const TAIL_LINES = 20;
const POLL_MS = 50;

/** Every Redis process started here and still running: killed if this process exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess, exited: Promise<ExitStatus>): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A test or script that crashes before its stop() must not leave servers on the machine.
    process.once('exit', () => {
      for (const orphan of running) orphan.kill('SIGKILL');
    });
  }
  running.add(child);
  void exited.then(() => running.delete(child));
}

interface Running {
  child: ChildProcess;
  exited: Promise<ExitStatus>;
}

/** The `process_id` INFO reports at `url`, or undefined while nothing answers there. */
async function serverPid(url: string): Promise<number | undefined> {
  const info = await redisCommand(url, ['INFO', 'server'], 500).catch(() => undefined);
  const pid = typeof info === 'string' ? /^process_id:(\d+)/m.exec(info)?.[1] : undefined;
  return pid === undefined ? undefined : Number(pid);
}

/**
 * Spawns the process and resolves once it answers: when it logs "Ready to accept connections" or (a
 * sentinel, or a quieter `--loglevel`) when INFO on its port reports its own PID, so another Redis
 * already on that port is never taken for it.
 */
async function launch(spec: RedisProcessSpec): Promise<Running> {
  const { program, port, readyTimeoutMs } = spec;
  const url = `redis://127.0.0.1:${port}`;
  const child = spawn(program, spec.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: spec.detached ?? false,
  });
  const exited = exitOf(child);
  track(child, exited);
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    let timedOut = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const tail = readLines([child.stdout, child.stderr], TAIL_LINES, (line) => {
      spec.output?.(line);
      if (line.includes(READY_LINE)) settle();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, readyTimeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        const { code, debian } = PROGRAMS[program];
        const hint = `install Redis (Debian/Ubuntu: apt-get install ${debian})`;
        settle(
          new DevkitError(code, `cannot run ${program}: it is not on the PATH; ${hint}`, { cause: err }),
        );
      } else {
        settle(new DevkitError('SPAWN_FAILED', `cannot run ${program}: ${err.message}`, { cause: err }));
      }
    });
    void exited.then(async (status) => {
      await outputClosed(child);
      const lines = tail.text();
      settle(
        timedOut
          ? new DevkitError(
              'READY_TIMEOUT',
              `${program} did not answer on port ${port} within ${readyTimeoutMs} ms:\n${lines}`,
            )
          : new DevkitError(
              'EXITED_BEFORE_READY',
              `${program} exited (${describeExit(status)}) before it was ready on port ${port}:\n${lines}`,
            ),
      );
    });
    // Bounded poll for a process that never logs the ready line; ends with the wait.
    void (async () => {
      while (!settled && child.pid !== undefined) {
        if ((await serverPid(url)) === child.pid) settle();
        else await delay(POLL_MS);
      }
    })();
  });
  try {
    await spec.afterStart?.(url);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return { child, exited };
}

/** Starts a Redis process as `spec` says; fails with a {@link DevkitError} naming its last lines. */
export async function startRedisProcess(spec: RedisProcessSpec): Promise<RedisProcess> {
  let current = await launch(spec);
  let frozen = false;

  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (isRunning(current.child)) {
      current.child.kill(signal);
      if (frozen) current.child.kill('SIGCONT');
    }
    frozen = false;
    await current.exited;
  };
  const start = async () => {
    if (isRunning(current.child)) return;
    current = await launch(spec);
  };
  return {
    url: `redis://127.0.0.1:${spec.port}`,
    port: spec.port,
    get pid() {
      return current.child.pid!;
    },
    get child() {
      return current.child;
    },
    get exited() {
      return current.exited;
    },
    get frozen() {
      return frozen;
    },
    stop,
    start,
    async restart(signal = 'SIGKILL') {
      await stop(signal);
      await start();
    },
    freeze() {
      if (!isRunning(current.child) || frozen) return;
      current.child.kill('SIGSTOP');
      frozen = true;
    },
    thaw() {
      if (!isRunning(current.child) || !frozen) return;
      current.child.kill('SIGCONT');
      frozen = false;
    },
  };
}
