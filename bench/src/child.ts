import { type ForkedProcess, type ForkProcessOptions, forkProcess } from '@iocluster/devkit';

/** A process the benchmark started and owns (label in reports: `io-0`, `app-0`, `base-1`, `gen-0`...). */
export interface BenchChild extends ForkedProcess {
  /** Log lines at warn level or above seen so far (pino JSON levels >= 40), with the first few kept. */
  readonly warnings: { count: number; first: string[] };
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs` (default 15000). */
  stop(graceMs?: number): Promise<void>;
}

const KEPT_WARNINGS = 5;

/** Forks a Node module (output piped, last 40 lines kept) and waits for its `{ type: 'ready' }` message. */
export async function forkReady(options: Omit<ForkProcessOptions, 'output' | 'stdio'>): Promise<BenchChild> {
  const warnings = { count: 0, first: [] as string[] };
  const forked = await forkProcess({
    readyTimeoutMs: 20_000,
    ...options,
    output: (line) => {
      if (line.trim() === '') return;
      const level = /"level":(\d+)/.exec(line);
      if ((level && Number(level[1]) >= 40) || (!level && /error|warn/i.test(line))) {
        warnings.count++;
        if (warnings.first.length < KEPT_WARNINGS) warnings.first.push(line.slice(0, 400));
      }
    },
  });
  return { ...forked, warnings, stop: (graceMs = 15_000) => forked.stop(graceMs) };
}
