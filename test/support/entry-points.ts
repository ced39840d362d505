import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DevkitError, type ForkedProcess, forkProcess } from '@iocluster/devkit';
import { inject } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A process entry point of this repository: `io-node`, `app-node`, `frontend`. */
export type EntryPoint = 'io-node' | 'app-node' | 'frontend';

/** Output of a process, line by line, with the JSON ones parsed; `waitFor` resolves on the first match. */
export interface OutputLines {
  readonly lines: string[];
  /** Lines that parse as pino JSON. */
  readonly records: Record<string, unknown>[];
  readonly output: (line: string) => void;
  waitFor(match: (record: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

export function outputLines(): OutputLines {
  const lines: string[] = [];
  const records: Record<string, unknown>[] = [];
  const waiters: {
    match: (r: Record<string, unknown>) => boolean;
    resolve: (r: Record<string, unknown>) => void;
  }[] = [];
  return {
    lines,
    records,
    output(line) {
      if (line.trim() === '') return;
      lines.push(line);
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      records.push(record);
      for (const waiter of [...waiters]) {
        if (!waiter.match(record)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(record);
      }
    },
    waitFor(match) {
      const seen = records.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** Is the process `pid` still there (signal 0)? */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A unique key prefix for one test. */
export function testPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/**
 * Forks an entry point from its TypeScript sources (as `npm start` would run its build), on the test
 * Redis unless `env` says otherwise, its output going to `output`.
 */
export function startEntryPoint(
  kind: EntryPoint,
  options: { args?: string[]; env?: Record<string, string>; output: OutputLines; readyTimeoutMs?: number },
): Promise<ForkedProcess> {
  return forkProcess({
    label: kind,
    module: `${root}packages/${kind}/src/main.ts`,
    args: options.args ?? [],
    cwd: root,
    execArgv: ['--import', 'tsx', '--conditions=source'],
    env: { REDIS_URL: inject('redisUrl'), LOG_LEVEL: 'info', ...options.env },
    stdio: 'pipe',
    output: options.output.output,
    readyTimeoutMs: options.readyTimeoutMs ?? 50_000,
  });
}

/** Runs an entry point that must fail to start; resolves with its exit code. */
export async function failedStart(
  kind: EntryPoint,
  options: { args?: string[]; env?: Record<string, string>; output: OutputLines },
): Promise<number> {
  try {
    const started = await startEntryPoint(kind, options);
    await started.stop();
    throw new Error(`${kind} started although it should not have`);
  } catch (err) {
    if (!(err instanceof DevkitError) || err.code !== 'EXITED_BEFORE_READY') throw err;
    const code = /exited \((\w+)\)/.exec(err.message)?.[1];
    return Number(code);
  }
}
