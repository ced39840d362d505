import { fileURLToPath } from 'node:url';
import { type ForkedProcess, forkProcess } from '@iocluster/devkit';
import { afterEach, describe, expect, test } from 'vitest';
import { type Cluster, setup } from './support/cluster.js';

const root = fileURLToPath(new URL('../', import.meta.url));
let cluster: Cluster | undefined;
const forked: ForkedProcess[] = [];
afterEach(async () => {
  await Promise.all(forked.splice(0).map((child) => child.stop()));
  await cluster?.cleanup();
  cluster = undefined;
});

/** A tier's process through its real entry point, on the cluster, with `env` added; output into `lines`. */
function start(tier: 'io-node' | 'app-node', env: Record<string, string>, lines: string[]) {
  const c = cluster!;
  return forkProcess({
    label: tier,
    module: `${root}packages/${tier}/src/main.ts`,
    args: tier === 'app-node' ? [`${root}test/fixtures/test-app.ts`] : [],
    cwd: root,
    execArgv: ['--import', 'tsx', '--conditions=source'],
    env: { REDIS_URL: c.redisUrl, IOCLUSTER_PREFIX: c.prefix, LOG_LEVEL: 'warn', ...env },
    output: (line) => lines.push(line),
    readyTimeoutMs: 50_000,
  });
}

describe('settings per tier', () => {
  test('settings - an app-node starts beside an io-node-only key file it does not have, and names a misspelt variable', async () => {
    cluster = await setup({ ioNodes: 1 });
    // One ConfigMap for every tier: the io-nodes' key file exists only on their disks.
    const configMap = {
      AUTH_JWT_PUBLIC_KEY_FILE: '/nonexistent/iocluster/jwt-public.pem',
      EVENT_TIMEOUT_MS: '10000',
      IO_NODE_PROT: '3001',
    };
    const lines: string[] = [];
    const app = await start('app-node', configMap, lines);
    forked.push(app);
    expect(app.ready.nodeId).toEqual(expect.any(String));
    // It serves clients of the cluster.
    const client = await cluster.connect(0);
    expect(await client.emitWithAck('echo', 'through the child')).toEqual(['through the child']);
    // One warning line, through pino, for the look-alike; none for the io-node's own variables.
    const warnings = lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => String(entry.msg).startsWith('unknown setting'));
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 40,
        variable: 'IO_NODE_PROT',
        closest: 'IO_NODE_PORT',
        msg: 'unknown setting IO_NODE_PROT is ignored; did you mean IO_NODE_PORT?',
      }),
    ]);

    // An io-node, which does read the key file, refuses that environment and says why.
    const ioLines: string[] = [];
    await expect(start('io-node', { ...configMap, IO_NODE_PORT: '0' }, ioLines)).rejects.toThrow(
      /io-node exited .* before it was ready/,
    );
    // The refusal is one JSON log line: its message, not its escaped text, holds the quotes.
    const messages = ioLines.map((line) => {
      try {
        return String((JSON.parse(line) as { msg?: unknown }).msg);
      } catch {
        return line;
      }
    });
    expect(messages.join('\n')).toContain(
      'AUTH_JWT_PUBLIC_KEY_FILE must name a readable file holding a PEM public key, got "/nonexistent/iocluster/jwt-public.pem" (cannot read it)',
    );
  });
});
