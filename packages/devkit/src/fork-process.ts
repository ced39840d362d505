import { type ChildProcess, fork } from 'node:child_process';
import { DevkitError } from './errors.js';
import { describeExit, type ExitStatus, exitOf, isRunning, outputClosed } from './exit-status.js';
import { readLines } from './output-lines.js';

/** What a process says over IPC once it is ready (`announceReady` in packages/shared): `nodeId`, `url`... */
export type ReadyMessage = { readonly type: 'ready' } & Readonly<Record<string, unknown>>;

/** Options of {@link forkProcess}. */
export interface ForkProcessOptions {
  /** Name in error messages and reports: `io-node-1`, `app-0`, `gen-2`... */
  label: string;
  /** The Node module to run: absolute, or relative to `cwd`. */
  module: string;
  /** Its arguments. @defaultValue [] */
  args?: string[];
  /** Added to this process's environment. @defaultValue {} */
  env?: Record<string, string>;
  /** Node options, e.g. `['--import', 'tsx', '--conditions=source']` to run TypeScript sources. @defaultValue [] */
  execArgv?: string[];
  /** Working directory. @defaultValue this process's */
  cwd?: string;
  /**
   * `pipe`: its output goes line by line to `output` and the last lines into errors and `tail()`;
   * `inherit`: straight to this process's stdout and stderr. @defaultValue 'pipe'
   */
  stdio?: 'pipe' | 'inherit';
  /** Receives every output line (with `stdio: 'pipe'`). @defaultValue lines are dropped */
  output?: (line: string) => void;
  /** How many last lines `tail()` and error messages keep. @defaultValue 40 */
  tailLines?: number;
  /**
   * Run it in a process group of its own, so a Ctrl-C in the terminal reaches only its owner, which can
   * stop it in order. @defaultValue false
   */
  detached?: boolean;
  /** How long it may take to send `{ type: 'ready' }`; then it is killed. @defaultValue 30000 */
  readyTimeoutMs?: number;
}

/** A Node process this one forked and owns: stopped by its PID and nothing else. */
export interface ForkedProcess {
  readonly label: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The message it sent when ready. */
  readonly ready: ReadyMessage;
  /** Resolves when it exited. */
  readonly exited: Promise<ExitStatus>;
  /** Its last output lines (empty with `stdio: 'inherit'`). */
  tail(): string;
  /** Sends `signal` (SIGTERM, a drain, by default; SIGKILL for a crash) unless it exited, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL if it is still there after `graceMs` (default 10000); waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

function isReady(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ready';
}

/**
 * Forks a Node module with an IPC channel and resolves once it sent `{ type: 'ready' }`. Fails with a
 * {@link DevkitError} (`EXITED_BEFORE_READY`, `READY_TIMEOUT`: then it has been killed, `SPAWN_FAILED`)
 * whose message ends with its last output lines; no process is left behind either way.
 */
export async function forkProcess(options: ForkProcessOptions): Promise<ForkedProcess> {
  const { label } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const pipe = (options.stdio ?? 'pipe') === 'pipe';
  const child = fork(options.module, options.args ?? [], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { ...process.env, ...options.env },
    execArgv: options.execArgv ?? [],
    stdio: pipe ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: options.detached ?? false,
  });
  const exited = exitOf(child);
  const output = readLines([child.stdout, child.stderr], options.tailLines ?? 40, options.output);
  const tail = () => output.text();
  const withTail = (message: string) => (tail() === '' ? message : `${message}:\n${tail()}`);

  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    let settled = false;
    let timedOut = false;
    const settle = (result: ReadyMessage | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onMessage = (message: unknown) => {
      if (isReady(message)) settle(message);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, readyTimeoutMs);
    child.on('message', onMessage);
    child.once('error', (err) => {
      if (child.pid === undefined) {
        settle(
          new DevkitError('SPAWN_FAILED', `${label} could not be started: ${err.message}`, { cause: err }),
        );
      }
    });
    void exited.then(async (status) => {
      await outputClosed(child);
      settle(
        timedOut
          ? new DevkitError('READY_TIMEOUT', withTail(`${label} was not ready within ${readyTimeoutMs} ms`))
          : new DevkitError(
              'EXITED_BEFORE_READY',
              withTail(`${label} exited (${describeExit(status)}) before it was ready`),
            ),
      );
    });
  });

  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (isRunning(child)) child.kill(signal);
    await exited;
  };
  return {
    label,
    pid: child.pid!,
    child,
    ready,
    exited,
    tail,
    kill,
    async stop(graceMs = 10_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
  };
}
