import { readFileSync } from 'node:fs';
import type { Logger } from './logger.js';

/**
 * For a process's `main.ts`: SIGTERM/SIGINT run `close` once (a second signal exits at once), then the
 * process exits 0, or 1 if closing failed. Tells a parent process (tests, supervisors) `{ type: 'ready' }`
 * over IPC when there is one, and what else `ready` carries.
 */
export function runUntilSignal(logger: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
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
