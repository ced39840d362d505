import { type ForkedProcess, type ForkProcessOptions, forkProcess } from '@iocluster/devkit';

/** Log lines at warn level or above a process wrote so far (pino JSON levels >= 40), the first few kept. */
export interface Warnings {
  count: number;
  first: string[];
}

/** A process the benchmark started and owns (label in reports: `io-0`, `app-0`, `base-1`, `gen-0`...). */
export interface BenchProcess extends ForkedProcess {
  readonly warnings: Warnings;
}

/** A process {@link forkReady} started. */
export interface BenchChild extends BenchProcess {
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs` (default 15000). */
  stop(graceMs?: number): Promise<void>;
}

const KEPT_WARNINGS = 5;

/** Counts the output lines at warn level or above into `warnings` (a line that is not JSON: by its words). */
export function countWarnings(warnings: Warnings, line: string): void {
  if (line.trim() === '') return;
  const level = /"level":(\d+)/.exec(line);
  if ((level && Number(level[1]) >= 40) || (!level && /error|warn/i.test(line))) {
    warnings.count++;
    if (warnings.first.length < KEPT_WARNINGS) warnings.first.push(line.slice(0, 400));
  }
}

/** Forks a Node module (output piped, last 40 lines kept) and waits for its `{ type: 'ready' }` message. */
export async function forkReady(options: Omit<ForkProcessOptions, 'output' | 'stdio'>): Promise<BenchChild> {
  const warnings: Warnings = { count: 0, first: [] };
  const forked = await forkProcess({
    readyTimeoutMs: 20_000,
    ...options,
    output: (line) => countWarnings(warnings, line),
  });
  return { ...forked, warnings, stop: (graceMs = 15_000) => forked.stop(graceMs) };
}
