import type { ChildProcess } from 'node:child_process';

/** How a child process ended. */
export interface ExitStatus {
  /** Exit code, or `null` when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or `null` when it exited by itself. */
  readonly signal: NodeJS.Signals | null;
}

/**
 * Resolves when `child` exits (at once if it already has), or when it could not be started at all: then
 * there is no 'exit' event, only 'error', and the code is the negative errno (-2 for ENOENT).
 */
export function exitOf(child: ChildProcess): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => {
      if (child.pid === undefined) resolve({ code: child.exitCode, signal: null });
    });
  });
}

/** Has `child` not exited yet? */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** `1`, or `SIGKILL`: for messages. */
export function describeExit(status: ExitStatus): string {
  return String(status.code ?? status.signal);
}

/**
 * Resolves once `child`'s output pipes closed after its exit, so its last lines have been read; at most
 * `boundMs` later (a grandchild may hold the pipes open).
 */
export function outputClosed(child: ChildProcess, boundMs = 500): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, boundMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (child.stdout?.closed !== false && child.stderr?.closed !== false) done();
    else child.once('close', done);
  });
}
