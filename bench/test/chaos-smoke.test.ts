import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import type { ChaosResults } from '../src/chaos.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TIMEOUT_MS = 240_000;
let outDir: string | undefined;

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('chaos', () => {
  test(
    'chaos - short mode: an app-node and an io-node SIGKILLed and Redis restarted under load lose nothing',
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'iocluster-chaos-'));
      const dir = outDir;
      // The built suite, as `npm run chaos` runs it (npm test builds before vitest).
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['bench/dist/chaos.js', '--short', '--out', dir],
          { cwd: root, timeout: RUN_TIMEOUT_MS, killSignal: 'SIGTERM', maxBuffer: 16 * 2 ** 20 },
          (err, out, stderr) =>
            err ? reject(new Error(`chaos failed: ${err.message}\n${out}\n${stderr}`)) : resolve(out),
        );
      });
      const results = JSON.parse(await readFile(join(dir, 'chaos-latest.json'), 'utf8')) as ChaosResults;
      expect(results.cases.map((c) => c.case)).toEqual(['app-node-kill', 'io-node-kill', 'redis-restart']);
      for (const c of results.cases) {
        expect(c.sent, c.case).toBeGreaterThan(0);
        expect(c.expected, c.case).toBe(c.sent * 10);
        expect({ case: c.case, lost: c.lost, delivered: c.delivered }).toEqual({
          case: c.case,
          lost: 0,
          delivered: c.expected,
        });
      }
      // The io-node's clients moved and got their sessions back.
      const moved = results.cases.find((c) => c.case === 'io-node-kill')!;
      expect(moved.reconnects).toBeGreaterThan(0);
      expect(moved.recovered).toBe(moved.reconnects);
      expect(stdout).toContain('| case | sent |');
    },
    RUN_TIMEOUT_MS + 10_000,
  );
});
