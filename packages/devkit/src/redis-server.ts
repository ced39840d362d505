import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { DevkitError } from './errors.js';
import { describeExit, type ExitStatus, exitOf, isRunning, outputClosed } from './exit-status.js';
import { freePort } from './free-port.js';
import { readLines } from './output-lines.js';
import { redisCommand } from './redis-probe.js';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Port on 127.0.0.1. @defaultValue a free port ({@link freePort}) */
  port?: number;
  /**
   * More `redis-server` arguments, after the defaults (`--port`, `--bind 127.0.0.1`, `--save ''`,
   * `--appendonly no`, `--protected-mode no`); a later argument wins. @defaultValue []
   */
  args?: string[];
  /** Receives every line the server writes. @defaultValue lines are dropped (the last ones go into errors) */
  output?: (line: string) => void;
  /**
   * Run it in a process group of its own, so a Ctrl-C in the terminal reaches only its owner, which
   * stops it in its turn. @defaultValue false
   */
  detached?: boolean;
  /** How long it may take to answer. @defaultValue 10000 */
  readyTimeoutMs?: number;
}

/** A redis-server this process started: loopback only, nothing on disk, stoppable and restartable. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The `redis_version` it reports. */
  readonly version: string;
  /** PID of the current process (a new one after {@link RedisServer.start}). */
  readonly pid: number;
  /** The current process. */
  readonly child: ChildProcess;
  /** Resolves when the current process exited. */
  readonly exited: Promise<ExitStatus>;
  /** FLUSHALL: the next user starts from an empty Redis. */
  flush(): Promise<void>;
  /**
   * Sends `signal` unless it already exited, and waits for the exit. SIGKILL by default: there is
   * nothing to save, and tests use it as a crash. Idempotent.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port after {@link RedisServer.stop}; does nothing while it runs. */
  start(): Promise<void>;
}

const READY_LINE = 'Ready to accept connections';
const TAIL_LINES = 20;
const POLL_MS = 50;

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
 * Starts a private `redis-server` on 127.0.0.1 and resolves once it answers. It is ready when it logs
 * "Ready to accept connections" or, with a quieter `--loglevel`, when INFO on its port reports its own
 * PID (so another Redis already on that port is never taken for it). Fails with a {@link DevkitError}
 * (`REDIS_SERVER_NOT_FOUND`, `EXITED_BEFORE_READY`, `READY_TIMEOUT`: then it has been killed) whose
 * message ends with the server's last lines.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port > 0)) {
    throw new RangeError(`startRedisServer(): port must be a positive integer, got ${options.port}`);
  }
  const port = options.port ?? (await freePort());
  const url = `redis://127.0.0.1:${port}`;
  const args = [
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ...['--protected-mode', 'no', ...(options.args ?? [])],
  ];

  async function launch(): Promise<Running> {
    const child = spawn('redis-server', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    const exited = exitOf(child);
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
        options.output?.(line);
        if (line.includes(READY_LINE)) settle();
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, readyTimeoutMs);
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          settle(
            new DevkitError(
              'REDIS_SERVER_NOT_FOUND',
              'cannot run redis-server: it is not on the PATH; install Redis ' +
                '(Debian/Ubuntu: apt-get install redis-server)',
              { cause: err },
            ),
          );
        } else {
          settle(new DevkitError('SPAWN_FAILED', `cannot run redis-server: ${err.message}`, { cause: err }));
        }
      });
      void exited.then(async (status) => {
        await outputClosed(child);
        const lines = tail.text();
        settle(
          timedOut
            ? new DevkitError(
                'READY_TIMEOUT',
                `redis-server did not answer on port ${port} within ${readyTimeoutMs} ms:\n${lines}`,
              )
            : new DevkitError(
                'EXITED_BEFORE_READY',
                `redis-server exited (${describeExit(status)}) before it was ready on port ${port}:\n${lines}`,
              ),
        );
      });
      // Bounded poll for a quiet --loglevel, which hides the ready line; ends with the wait.
      void (async () => {
        while (!settled && child.pid !== undefined) {
          if ((await serverPid(url)) === child.pid) settle();
          else await delay(POLL_MS);
        }
      })();
    });
    return { child, exited };
  }

  let current = await launch();
  let version = 'unknown';
  try {
    const info = await redisCommand(url, ['INFO', 'server']);
    version = (typeof info === 'string' && /^redis_version:(.+)$/m.exec(info)?.[1]?.trim()) || 'unknown';
  } catch (err) {
    current.child.kill('SIGKILL');
    await current.exited;
    throw err;
  }

  return {
    url,
    port,
    version,
    get pid() {
      return current.child.pid!;
    },
    get child() {
      return current.child;
    },
    get exited() {
      return current.exited;
    },
    async flush() {
      await redisCommand(url, ['FLUSHALL']);
    },
    async stop(signal = 'SIGKILL') {
      if (isRunning(current.child)) current.child.kill(signal);
      await current.exited;
    },
    async start() {
      if (isRunning(current.child)) return;
      current = await launch();
    },
  };
}
