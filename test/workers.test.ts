import { once } from 'node:events';
import { freePortRange } from '@iocluster/devkit';
import { createKeys, readLiveNodes } from '@iocluster/shared';
import { type Socket as ClientSocket, io as connectClient } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import register from './fixtures/test-app.js';
import { type Cluster, nextEvent, setup } from './support/cluster.js';
import { isRunning, outputLines } from './support/entry-points.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
const sockets: ClientSocket[] = [];
async function start(options?: Parameters<typeof setup>[0]): Promise<Cluster> {
  cluster = await setup(options);
  return cluster;
}
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  await cluster?.cleanup();
  cluster = undefined;
});

/** Short heartbeats: a SIGKILLed worker's record expires in 1.5 s, as it would in 6 s by default. */
const FAST_ENV = { HEARTBEAT_INTERVAL_MS: '500', HEARTBEAT_TTL_MS: '1500' };

async function connect(url: string): Promise<ClientSocket> {
  const socket = connectClient(url, { transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  await nextEvent(socket, 'connect');
  return socket;
}

describe('workers', () => {
  test('workers - IO_NODE_WORKERS=2 runs two registered io-nodes, restarts a killed one, drains both on SIGTERM', async () => {
    const c = await start({ appNodes: 1, register });
    const keys = createKeys(c.prefix);
    const log = outputLines();
    const supervisor = await c.startIoNodeSupervisor(2, { ...FAST_ENV, LOG_LEVEL: 'info' }, log.output);

    // Two nodes of their own: ids <base>-w<i>, distinct ports, each with its own registry record.
    const { baseId, workers } = supervisor;
    expect(workers.map((w) => w.nodeId)).toEqual([`${baseId}-w0`, `${baseId}-w1`]);
    expect(new Set(workers.map((w) => w.port)).size).toBe(2);
    expect(workers.map((w) => w.url)).toEqual(workers.map((w) => `http://127.0.0.1:${w.port}`));
    expect(workers.every((w) => w.pid !== supervisor.process.pid && isRunning(w.pid))).toBe(true);
    const records = await until(
      () => readLiveNodes(c.redis, keys),
      (nodes) => nodes.length === 2,
      5_000,
    );
    expect(records.map((r) => [r.nodeId, r.url]).sort()).toEqual(workers.map((w) => [w.nodeId, w.url]));

    // Clients connect to both, and each worker's events go through the queue and back.
    const [first, second] = await Promise.all(workers.map((w) => connect(w.url)));
    expect(await first!.emitWithAck('echo', 'to w0')).toEqual(['to w0']);
    expect(await second!.emitWithAck('echo', 'to w1')).toEqual(['to w1']);

    // A crash: worker 0 is restarted as a new node (new id, new record), and both facts are logged.
    const dropped = nextEvent(first!, 'disconnect');
    process.kill(workers[0]!.pid, 'SIGKILL');
    const crash = await log.waitFor((line) => line.msg === 'worker exited; restarting it');
    expect(crash).toMatchObject({ worker: 0, pid: workers[0]!.pid, signal: 'SIGKILL', restartInMs: 1_000 });
    await dropped;
    const restarted = await log.waitFor((line) => line.msg === 'worker restarted');
    expect(restarted).toMatchObject({ worker: 0, incarnation: 1, nodeId: `${baseId}-w0-r1` });
    expect(restarted.pid).not.toBe(workers[0]!.pid);
    expect(log.records.filter((line) => line.msg === 'worker exited; restarting it')).toHaveLength(1);
    const after = await until(
      () => readLiveNodes(c.redis, keys),
      (nodes) => nodes.length === 2 && !nodes.some((n) => n.nodeId === workers[0]!.nodeId),
      10_000,
    );
    expect(after.map((n) => n.nodeId).sort()).toEqual([`${baseId}-w0-r1`, `${baseId}-w1`]);
    const back = await connect(String(restarted.url));
    expect(await back.emitWithAck('echo', 'to w0 again')).toEqual(['to w0 again']);

    // SIGTERM to the supervisor: every worker drains (its clients are disconnected) and exits, then it does.
    const drained = [nextEvent(second!, 'disconnect'), nextEvent(back, 'disconnect')];
    await supervisor.stop();
    expect(await supervisor.exited).toEqual({ code: 0, signal: null });
    await Promise.all(drained);
    expect([workers[1]!.pid, Number(restarted.pid)].filter(isRunning)).toEqual([]);
    expect(await readLiveNodes(c.redis, keys)).toEqual([]);
    expect(log.records.some((line) => line.msg === 'workers stopped')).toBe(true);
  });

  test('workers - IO_NODE_WORKERS=1 (the default) runs the io-node in the process itself', async () => {
    const c = await start();
    const child = await c.startChildIoNode({ IO_NODE_WORKERS: '1' });
    const [record] = await until(
      () => readLiveNodes(c.redis, createKeys(c.prefix)),
      (nodes) => nodes.length === 1,
      5_000,
    );
    expect(record).toMatchObject({ nodeId: child.nodeId, url: child.url });
  });

  test('workers - APP_NODE_WORKERS=2 runs two app-nodes that answer events and stop together on SIGINT', async () => {
    const c = await start({ ioNodes: 1, appModule: 'test/fixtures/test-app.ts' });
    const child = await c.startChildAppNode({ APP_NODE_WORKERS: '2' });
    const workers = child.ready.workers as { nodeId: string; pid: number }[];
    expect(workers.map((w) => w.nodeId)).toEqual([`${child.nodeId}-w0`, `${child.nodeId}-w1`]);
    expect(workers.every((w) => isRunning(w.pid))).toBe(true);
    const socket = await c.connect(0);
    expect(workers.map((w) => w.nodeId)).toContain(await socket.emitWithAck('who'));

    // The io-node first, while the workers still answer its clients' disconnect events.
    await c.ioNodes[0]!.close();
    // SIGINT (a Ctrl-C) drains the workers as SIGTERM does.
    const exited = once(child.process, 'exit');
    child.process.kill('SIGINT');
    expect(await exited).toEqual([0, null]);
    expect(workers.map((w) => w.pid).filter(isRunning)).toEqual([]);
  });
  test('workers - APP_NODE_WORKERS=2 with METRICS_PORT: every worker serves its metrics, and the frontend lists every worker of both tiers for Prometheus', async () => {
    const c = await start({ appModule: 'test/fixtures/test-app.ts' });
    // Worker i listens on METRICS_PORT + i: both ports must be free.
    const metricsPort = await freePortRange(2);
    const child = await c.startChildAppNode({
      APP_NODE_WORKERS: '2',
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: '127.0.0.1',
    });
    const workers = child.ready.workers as { nodeId: string; metricsUrl: string }[];
    expect(workers.map((w) => [w.nodeId, w.metricsUrl])).toEqual([
      [`${child.nodeId}-w0`, `http://127.0.0.1:${metricsPort}/metrics`],
      [`${child.nodeId}-w1`, `http://127.0.0.1:${metricsPort + 1}/metrics`],
    ]);
    for (const worker of workers) {
      const res = await fetch(worker.metricsUrl);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('iocluster_app_jobs_total{result="completed"}');
    }
    const supervisor = await c.startIoNodeSupervisor(2);
    const frontend = await c.startFrontend();
    const targets = async (tier: string) => {
      const res = await fetch(`${frontend.url}/api/scrape-targets?tier=${tier}`);
      return (await res.json()) as { targets: string[]; labels: Record<string, string> }[];
    };
    const apps = await until(
      () => targets('app-node'),
      (groups) => groups.length === 2,
      10_000,
    );
    expect(apps.map((g) => [g.labels.node_id, g.targets, g.labels.__metrics_path__]).sort()).toEqual([
      [`${child.nodeId}-w0`, [`127.0.0.1:${metricsPort}`], '/metrics'],
      [`${child.nodeId}-w1`, [`127.0.0.1:${metricsPort + 1}`], '/metrics'],
    ]);
    const ios = await until(
      () => targets('io-node'),
      (groups) => groups.length === 2,
      10_000,
    );
    expect(ios.map((g) => [g.labels.node_id, g.targets]).sort()).toEqual(
      supervisor.workers.map((w) => [w.nodeId, [`127.0.0.1:${w.port}`]]),
    );
    // What Prometheus then scrapes: each io-node worker's own metrics.
    for (const group of ios) {
      const res = await fetch(`http://${group.targets[0]}${group.labels.__metrics_path__}`);
      expect(await res.text()).toContain('iocluster_io_connections');
    }
    await supervisor.stop();
  });
});
