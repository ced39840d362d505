import { readFileSync } from 'node:fs';
import { closeStepsRunning } from './lifecycle.js';
import type { Logger } from './logger.js';

/**
 * How long a process may take to shut down after SIGTERM: below the 30 s a worker supervisor (and
 * Kubernetes' default grace period) waits before SIGKILL, so the process can still say what it did not
 * finish.
 */
export const SHUTDOWN_BOUND_MS = 25_000;

/** Options of {@link runUntilSignal}. */
export interface RunUntilSignalOptions {
  /**
   * A close still running this long after the signal is abandoned: the process logs the close steps not
   * finished and exits 1. @defaultValue {@link SHUTDOWN_BOUND_MS}
   */
  boundMs?: number;
}

/**
 * For a process's `main.ts`: SIGTERM/SIGINT run `close` once (a second signal exits at once), then the
 * process exits 0, or 1 if closing failed or did not finish within `boundMs` (a Redis that is gone must
 * not keep a process from ending).
 */
export function runUntilSignal(
  logger: Logger,
  close: () => Promise<void>,
  options: RunUntilSignalOptions = {},
): void {
  const boundMs = options.boundMs ?? SHUTDOWN_BOUND_MS;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal, unfinished: closeStepsRunning() }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, boundMs }, 'shutting down');
    setTimeout(() => {
      const unfinished = closeStepsRunning();
      logger.error(
        { boundMs, unfinished },
        `shutdown did not finish within ${boundMs} ms; exiting without: ${unfinished.join(', ') || 'nothing tracked'}`,
      );
      process.exit(1);
    }, boundMs);
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Tells a parent process over IPC that this one is ready, if it was started with an IPC channel. */
export function announceReady(details: Record<string, unknown>): void {
  process.send?.({ type: 'ready', ...details });
}

/** The `version` of the package.json at `packageJsonUrl` (e.g. `new URL('../package.json', import.meta.url)`). */
export function packageVersionAt(packageJsonUrl: URL): string {
  const pkg = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
