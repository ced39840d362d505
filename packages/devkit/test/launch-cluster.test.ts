import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { DevkitError, type LaunchClusterOptions, type LaunchedCluster, launchCluster } from '../src/index.js';

const NODE = fileURLToPath(new URL('./fixtures/node.mjs', import.meta.url));
const ENTRY_POINTS = { 'io-node': NODE, 'app-node': NODE, frontend: NODE };
const launched: LaunchedCluster[] = [];

afterEach(async () => {
  await Promise.all(launched.splice(0).map((cluster) => cluster.stop(1_000)));
});

async function launch(options: Omit<LaunchClusterOptions, 'entryPoints'>): Promise<LaunchedCluster> {
  const cluster = await launchCluster({ entryPoints: ENTRY_POINTS, ...options });
  launched.push(cluster);
  return cluster;
}

/** A process's state letter in /proc (`T`: stopped by a signal). */
async function state(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** Is there a process `pid` (running, or exited and not reaped yet)? */
const isAlive = (pid: number) => existsSync(`/proc/${pid}`);

describe('launchCluster', () => {
  test('launchCluster - io-nodes, app-nodes and a frontend, each with its tier’s environment, id and arguments', async () => {
    const cluster = await launch({
      ioNodes: 2,
      appNodes: 1,
      frontend: true,
      appModule: '/handlers.js',
      idPrefix: 't-',
      host: '127.0.0.2',
      env: { SHARED_X: 'all', TIER_X: 'shared' },
      tierEnv: { 'app-node': { TIER_X: 'app' } },
    });
    expect(cluster.processes.map((p) => [p.kind, p.label])).toEqual([
      ['io-node', 'io-node-1'],
      ['io-node', 'io-node-2'],
      ['app-node', 'app-node-1'],
      ['frontend', 'frontend'],
    ]);
    const [io1, io2] = cluster.ioNodes;
    expect(io1?.nodeId).toMatch(/^t-io-1-[0-9a-f]{4}$/);
    expect(io2?.nodeId).toMatch(/^t-io-2-[0-9a-f]{4}$/);
    expect(io1?.ready).toMatchObject({
      nodeId: io1?.nodeId,
      args: [],
      env: {
        IO_NODE_ID: io1?.nodeId,
        IO_NODE_HOST: '127.0.0.2',
        IO_NODE_PORT: '0',
        SHARED_X: 'all',
        TIER_X: 'shared',
      },
    });
    expect(io1?.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    const [app] = cluster.appNodes;
    expect(app?.ready).toEqual({
      type: 'ready',
      nodeId: app?.nodeId,
      args: ['/handlers.js'],
      env: { APP_NODE_ID: app?.nodeId, SHARED_X: 'all', TIER_X: 'app' },
    });
    expect(app?.url).toBeUndefined();
    expect(cluster.frontend?.nodeId).toBeUndefined();
    expect(cluster.frontend?.ready.env).toEqual({
      FRONTEND_HOST: '127.0.0.2',
      FRONTEND_PORT: '0',
      SHARED_X: 'all',
      TIER_X: 'shared',
    });
  });

  test('launchCluster - start adds a node whose spec comes last; a killed node leaves the lists, not processes', async () => {
    const cluster = await launch({ ioNodes: 1, env: { OWN_X: 'cluster' } });
    const lines: string[] = [];
    const extra = await cluster.start('io-node', {
      label: 'io-extra',
      nodeId: 'io-given',
      args: ['a'],
      env: { OWN_X: 'spec', IO_NODE_PORT: '4321' },
      output: (label, line) => lines.push(`${label}: ${line}`),
    });
    expect(extra.ready).toMatchObject({
      nodeId: 'io-given',
      args: ['a'],
      env: { IO_NODE_ID: 'io-given', IO_NODE_PORT: '4321', OWN_X: 'spec' },
    });
    expect(extra.url).toBe('http://127.0.0.1:4321');
    expect(lines).toEqual([`io-extra: pid ${extra.pid}`]);
    expect(cluster.ioNodes.map((p) => p.label)).toEqual(['io-node-1', 'io-extra']);

    await cluster.ioNodes[0]?.kill('SIGKILL');
    expect(await cluster.processes[0]?.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(cluster.ioNodes.map((p) => p.label)).toEqual(['io-extra']);
    expect(cluster.processes.map((p) => p.label)).toEqual(['io-node-1', 'io-extra']);
  });

  test('launchCluster - freeze stops a node (SIGSTOP) until thaw; a frozen node still stops', async () => {
    const cluster = await launch({ appNodes: 2 });
    const [frozen, other] = cluster.appNodes;
    frozen!.freeze();
    expect(frozen!.frozen).toBe(true);
    expect(await state(frozen!.pid)).toBe('T');
    expect(await state(other!.pid)).not.toBe('T');
    frozen!.thaw();
    expect(frozen!.frozen).toBe(false);
    expect(await state(frozen!.pid)).not.toBe('T');
    frozen!.freeze();
    await frozen!.stop(5_000);
    expect(await frozen!.exited).toEqual({ code: 0, signal: null });
  });

  test('launchCluster - stop drains the frontend, then io-nodes, then app-nodes; SIGKILL past the grace', async () => {
    const cluster = await launch({
      ioNodes: 2,
      appNodes: 2,
      frontend: true,
      tierEnv: { 'app-node': { FIXTURE_IGNORE_TERM: '1' } },
    });
    const exits: string[] = [];
    for (const p of cluster.processes)
      void p.exited.then((status) => exits.push(`${p.kind} ${status.signal ?? status.code}`));
    await cluster.stop(300);
    expect(exits).toEqual(['frontend 0', 'io-node 0', 'io-node 0', 'app-node SIGKILL', 'app-node SIGKILL']);
    expect(cluster.ioNodes).toEqual([]);
    expect(cluster.frontend).toBeUndefined();
    // Idempotent.
    await cluster.stop();
  });

  test('launchCluster - a process that fails to start rejects with its last lines and stops the others', async () => {
    const pids: number[] = [];
    const err = await launchCluster({
      entryPoints: ENTRY_POINTS,
      ioNodes: 2,
      appNodes: 1,
      tierEnv: { 'app-node': { FIXTURE_FAIL: '1' } },
      output: (_, line) => {
        const pid = /^pid (\d+)$/.exec(line)?.[1];
        if (pid) pids.push(Number(pid));
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DevkitError);
    expect(err).toMatchObject({ code: 'EXITED_BEFORE_READY' });
    const { message } = err as Error;
    expect(message.split('\n')[0]).toBe('app-node-1 exited (4) before it was ready:');
    expect(message.split('\n').slice(1).sort()).toEqual(['no config', `pid ${pids[2]}`]);
    expect(pids).toHaveLength(3);
    expect(pids.filter(isAlive)).toEqual([]);
  });

  test('launchCluster - an aborted start stops what it started and rejects', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const pids: number[] = [];
    const started = launchCluster({
      entryPoints: ENTRY_POINTS,
      ioNodes: 1,
      appNodes: 1,
      output: (label, line) => {
        seen.push(label);
        pids.push(Number(/^pid (\d+)$/.exec(line)?.[1]));
        controller.abort();
      },
      signal: controller.signal,
    });
    await expect(started).rejects.toThrow('start aborted');
    expect(seen).toEqual(['io-node-1']);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
