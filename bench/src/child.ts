import { type ChildProcess, fork } from 'node:child_process';

/** A process the benchmark started and owns: it is stopped by its pid and nothing else. */
export interface BenchChild {
  /** Label in reports: `io-0`, `app-0`, `base-1`, `gen-0`... */
  readonly label: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** What the process said when ready (`{ type: 'ready', ... }` over IPC). */
  readonly ready: Record<string, unknown>;
  /** Log lines at warn level or above seen so far (pino JSON levels >= 40), with the first few kept. */
  readonly warnings: { count: number; first: string[] };
  /** Last lines of output, for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ForkOptions {
  label: string;
  module: string;
  args?: string[];
  env?: Record<string, string>;
  execArgv?: string[];
  readyTimeoutMs?: number;
}

const TAIL_LINES = 40;
const KEPT_WARNINGS = 5;

/** Forks a Node module with an IPC channel and waits for its `{ type: 'ready' }` message. */
export async function forkReady(options: ForkOptions): Promise<BenchChild> {
  const child = fork(options.module, options.args ?? [], {
    env: { ...process.env, ...options.env },
    execArgv: options.execArgv ?? [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines: string[] = [];
  const warnings = { count: 0, first: [] as string[] };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      const level = /"level":(\d+)/.exec(line);
      if ((level && Number(level[1]) >= 40) || (!level && /error|warn/i.test(line))) {
        warnings.count++;
        if (warnings.first.length < KEPT_WARNINGS) warnings.first.push(line.slice(0, 400));
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const tail = () => lines.join('\n');

  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${options.label} was not ready within ${options.readyTimeoutMs ?? 20_000} ms:\n${tail()}`),
      );
    }, options.readyTimeoutMs ?? 20_000);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      reject(new Error(`${options.label} exited (${code ?? signal}) before it was ready:\n${tail()}`));
    };
    child.once('exit', onExit);
    child.on('message', function onMessage(message: unknown) {
      if (
        typeof message === 'object' &&
        message !== null &&
        (message as { type?: unknown }).type === 'ready'
      ) {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve(message as Record<string, unknown>);
      }
    });
  });

  return {
    label: options.label,
    pid: child.pid!,
    process: child,
    ready,
    warnings,
    tail,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
