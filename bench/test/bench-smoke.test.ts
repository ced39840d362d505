import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import type { BenchResults } from '../src/results.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TIMEOUT_MS = 110_000;
let outDir: string | undefined;

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

/** Runs the built benchmark (npm test builds before vitest); resolves with its stdout. */
function runBench(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['bench/dist/run.js', ...args],
      { cwd: root, timeout: RUN_TIMEOUT_MS, killSignal: 'SIGTERM', maxBuffer: 16 * 2 ** 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`bench failed: ${err.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

describe('bench', () => {
  test(
    'bench - short mode delivers every message on both systems and writes complete results',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'iocluster-bench-'));
      const stdout = await runBench(['--short', '--out', outDir]);
      const results = JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as BenchResults;

      expect(results.machine.cores).toBeGreaterThan(0);
      expect(results.machine.redis).toMatch(/^\d+\.\d+/);
      expect(results.workloads.map((w) => w.name)).toEqual(['fanout10']);
      const [workload] = results.workloads;
      expect(workload!.runs.map((r) => r.system)).toEqual(['iocluster', 'baseline']);

      for (const run of workload!.runs) {
        expect(run.connect).toEqual({ clients: 200, joined: 200, ms: expect.any(Number) });
        const [lowest] = run.steps;
        expect(lowest, run.system).toBeDefined();
        // 200 clients in 20 rooms of 10: every message reaches 10 members, the sender included.
        expect(lowest!.sent).toBe(lowest!.offered * (lowest!.durationMs / 1000));
        expect(lowest!.expected).toBe(lowest!.sent * 10);
        expect(lowest!.delivered).toBe(lowest!.sent * 10);
        expect({ lost: lowest!.lost, duplicates: lowest!.duplicates, misrouted: lowest!.misrouted }).toEqual({
          lost: 0,
          duplicates: 0,
          misrouted: 0,
        });
        expect(lowest!.acked).toBe(lowest!.sent);
        expect(lowest!.ackErrors).toEqual({});
        for (const step of run.steps) {
          const { p50, p99, max } = step.latencyMs;
          expect(p50).toBeGreaterThan(0);
          expect(p50).toBeLessThanOrEqual(p99);
          expect(p99).toBeLessThanOrEqual(max);
          expect(Object.keys(step.cpu)).toEqual(expect.arrayContaining(['gen-0', 'redis']));
        }
      }
      expect(Object.keys(workload!.runs[0]!.steps[0]!.cpu)).toEqual(
        expect.arrayContaining(['io-0', 'io-1', 'app-0']),
      );
      expect(Object.keys(workload!.runs[1]!.steps[0]!.cpu)).toEqual(
        expect.arrayContaining(['base-0', 'base-1']),
      );

      expect(results.memory.map((m) => [m.system, m.clients])).toEqual([
        ['iocluster', 1000],
        ['baseline', 1000],
      ]);
      for (const m of results.memory) {
        expect(m.rssAfterBytes).toBeGreaterThan(m.rssBeforeBytes);
        expect(m.perClientBytes).toBe(Math.round((m.rssAfterBytes - m.rssBeforeBytes) / m.clients));
      }
      // CPU per delivery and per io-node message, p50, p99, the knees at fan-out 10 and 1, rpc CPU and
      // p50, memory, the second peer.
      expect(results.targets.map((t) => t.status)).toHaveLength(10);
      // Every step counts Redis commands (BullMQ's scripts and the inbox appends for iocluster, the
      // adapter's PUBLISH for the baseline) and the wake-ups of each process.
      const [io, base] = workload!.runs.map((r) => r.steps[0]!);
      expect(io!.redis?.calls).toEqual(
        expect.objectContaining({ evalsha: expect.any(Number), xadd: expect.any(Number) }),
      );
      expect(base!.redis?.calls.publish).toBeGreaterThan(base!.sent / 2);
      expect(io!.wakeups['io-0']).toBeGreaterThan(0);
      expect(stdout).toContain('per message: system CPU');

      const png = await readFile(join(outDir, 'latest.png'));
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(stdout).toContain('| workload | system | knee (msgs/s)');
    },
    {
      timeout: RUN_TIMEOUT_MS + 10_000,
      // The lowest step must deliver every message within its 3 s window (plus a short grace), and a
      // machine busy with other work delays some past it, for the plain Socket.IO baseline as much as
      // for iocluster: 14,582 of 15,000 once at a load average of 10 on 2 cores (the rerun: all), and
      // thousands missed by both systems at 30. One more run tells such a stall from a real loss.
      retry: 1,
    },
  );
});
