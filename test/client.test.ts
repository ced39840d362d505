import { fileURLToPath } from 'node:url';
import type { AppNode } from '@iocluster/app-node';
import { ClientError, type ClientLifecycleEvents, type IoclusterClient } from '@iocluster/client';
import { build } from 'esbuild';
import { io as connectPlain, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { clientFactory, next } from './support/clients.js';
import { type Cluster, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
const clients: IoclusterClient[] = [];
const plain: Socket[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const socket of plain.splice(0)) socket.disconnect();
  await cluster?.cleanup();
  cluster = undefined;
});

/** The test app plus `where`: the id of the io-node holding the client, as the app-node sees it. */
function register(app: AppNode): void {
  registerTestApp(app);
  app.on('where', (socket) => socket.nodeId);
}

const client = clientFactory(clients, { backoffMinMs: 50 });

/** Records the names of lifecycle events in order. */
function record(target: IoclusterClient): string[] {
  const log: string[] = [];
  for (const name of ['connected', 'reconnecting', 'node-changed', 'disconnected', 'unavailable'] as const) {
    target.on(name, (() => log.push(name)) as ClientLifecycleEvents[typeof name]);
  }
  return log;
}

describe('client', () => {
  test('client - picks a node through /api/connect, connects and receives server events', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 1, register });
    const frontend = await cluster.startFrontend();
    const a = client({ frontendUrl: frontend.url });
    const [nodeId, url] = await next(a, 'connected');
    const node = cluster.ioNodes.find((n) => n.nodeId === nodeId)!;
    expect(node).toBeDefined();
    expect(url).toBe(node.url);
    expect(a.nodeId).toBe(nodeId);
    expect(a.connected).toBe(true);
    expect(await a.emitWithAck('where')).toBe(nodeId);

    const rooms: unknown[] = [];
    a.on('room', (payload: unknown) => rooms.push(payload));
    expect(await a.emitWithAck('join', 'r1')).toEqual(['r1']);
    const marker = new Promise((resolve) => a.on('marker', resolve));
    expect(await a.emitWithAck('to room', 'r1', { text: 'hi' })).toBe(true);
    await marker;
    expect(rooms).toEqual([{ text: 'hi' }]);
  });

  test('client - emits made before the connection are queued and sent in order', async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 2, register });
    const frontend = await cluster.startFrontend();
    const a = client({ frontendUrl: frontend.url, autoConnect: false });
    const seqs: number[] = [];
    const violations: unknown[] = [];
    a.on('seq', (n: number) => seqs.push(n));
    a.on('order violation', (v: unknown) => violations.push(v));
    const acks: Promise<unknown>[] = [];
    for (let n = 0; n < 60; n++) {
      if (n % 2 === 0) acks.push(a.emitWithAck('seq', n));
      else a.emit('seq', n);
    }
    expect(a.queued).toBe(60);
    expect(a.state).toBe('idle');
    a.connect();
    expect(await Promise.all(acks)).toEqual(Array.from({ length: 30 }, (_, k) => 2 * k));
    // The last ack comes after every earlier event's handler ran (per-client ordering), so all 60 are in.
    expect(await a.emitWithAck('echo', 'done')).toEqual(['done']);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, n) => n));
    expect(violations).toEqual([]);
    expect(a.queued).toBe(0);
  });

  test('client - when its io-node closes it moves to the other live node, queued emits included', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 1, register });
    const frontend = await cluster.startFrontend();
    const a = client({ frontendUrl: frontend.url });
    const log = record(a);
    const [first] = await next(a, 'connected');
    const rooms: unknown[] = [];
    a.on('room', (payload: unknown) => rooms.push(payload));

    const disconnected = next(a, 'disconnected');
    const changed = next(a, 'node-changed');
    const victim = cluster.ioNodes.find((n) => n.nodeId === first)!;
    const survivor = cluster.ioNodes.find((n) => n.nodeId !== first)!;
    const closed = victim.close();
    expect(await disconnected).toEqual(['io server disconnect']);
    // Not connected now: these wait in the queue and go out, in order, on the next node.
    expect(a.connected).toBe(false);
    const joined = a.emitWithAck('join', 'r2');
    const sent = a.emitWithAck('to room', 'r2', 'after the move');
    expect(a.queued).toBe(2);
    expect(await changed).toEqual([first, survivor.nodeId]);
    expect(await joined).toEqual(['r2']);
    expect(await sent).toBe(true);
    await closed;
    expect(a.nodeId).toBe(survivor.nodeId);
    expect(await a.emitWithAck('where')).toBe(survivor.nodeId);
    expect(rooms).toEqual(['after the move']);
    expect(log.filter((e) => e !== 'reconnecting')).toEqual([
      'connected',
      'disconnected',
      'connected',
      'node-changed',
    ]);
  });

  test('client - paces its emits to the rate limit its io-node announces: a burst and a queue sent after a move all run, none RATE_LIMITED', async () => {
    // 40 events/s, 10 at once: each batch below is three times the burst.
    cluster = await setup({
      ioNodes: 2,
      appNodes: 1,
      register,
      ioNodeOptions: { clientEventRate: 40, clientEventBurst: 10 },
    });
    const frontend = await cluster.startFrontend();
    const a = client({ frontendUrl: frontend.url });
    const [first] = await next(a, 'connected');
    const numbers = (from: number) => Array.from({ length: 30 }, (_, i) => from + i);
    const echo = (from: number) => numbers(from).map((n) => a.emitWithAck('echo', n));
    expect(await Promise.all(echo(0))).toEqual(numbers(0).map((n) => [n]));

    const disconnected = next(a, 'disconnected');
    const victim = cluster.ioNodes.find((n) => n.nodeId === first)!;
    const closed = victim.close();
    await disconnected;
    // Queued while away; the new node's bucket is full again, and the client paces the rest to its rate.
    const queued = echo(30);
    expect(await Promise.all(queued)).toEqual(numbers(30).map((n) => [n]));
    await closed;
    expect(a.nodeId).not.toBe(first);
  });

  test('client - without recovery, an io-node killed with SIGKILL rejects in-flight acks with DISCONNECTED and the client moves on', async () => {
    cluster = await setup({ appNodes: 1, register: registerTestApp });
    const frontend = await cluster.startFrontend();
    const [one, two] = await Promise.all([cluster.startChildIoNode(), cluster.startChildIoNode()]);
    const a = client({ frontendUrl: frontend.url, strategy: 'round-robin', recovery: false });
    const [first] = await next(a, 'connected');
    const victim = [one!, two!].find((n) => n.nodeId === first)!;
    const survivor = [one!, two!].find((n) => n.nodeId !== first)!;

    const started = new Promise((resolve) => a.on('started', resolve));
    const inFlight = a.emitWithAck('slow', 1, 2_000).then(
      () => undefined,
      (err: unknown) => err,
    );
    await started;
    const changed = next(a, 'node-changed');
    await victim.kill();
    // The dead node is still in the registry until its heartbeat expires; the client steers around it.
    const error = await inFlight;
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe('DISCONNECTED');
    expect(await changed).toEqual([victim.nodeId, survivor.nodeId]);
    expect(await a.emitWithAck('echo', 'still here')).toEqual(['still here']);
  });

  test('client - with no live io-node it backs off, gives up after maxAttempts and rejects the queue', async () => {
    cluster = await setup({ register });
    const frontend = await cluster.startFrontend();
    const requests: number[] = [];
    const counting: typeof fetch = (input, init) => {
      requests.push(Date.now());
      return fetch(input, init);
    };
    const a = client({
      frontendUrl: frontend.url,
      fetch: counting,
      maxAttempts: 4,
      backoffMinMs: 40,
      retryForever: false,
    });
    const reconnecting: unknown[][] = [];
    a.on('reconnecting', (...args) => reconnecting.push(args));
    const queued = a.emitWithAck('echo', 'never');
    const [error] = await next(a, 'unavailable');
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe('UNAVAILABLE');
    expect(((error as ClientError).cause as ClientError).code).toBe('NO_IO_NODES');
    await expect(queued).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(requests).toHaveLength(4);
    expect(reconnecting.map(([attempt, reason]) => [attempt, reason])).toEqual([
      [2, 'discovery'],
      [3, 'discovery'],
      [4, 'discovery'],
    ]);
    // Backoff: attempt n waits at least half of 40·2^(n-1) ms, so the 4 requests span at least 40+80+160 ms.
    expect(requests.at(-1)! - requests[0]!).toBeGreaterThanOrEqual(280);
    expect(a.state).toBe('idle');

    // Once a node is up, connect() starts a new cycle.
    await cluster.startIoNode();
    await cluster.startAppNode();
    const connected = next(a, 'connected');
    a.connect();
    await connected;
    expect(await a.emitWithAck('echo', 'now')).toEqual(['now']);
  });

  test('client - close() stops it: queued acks reject CLOSED, emits throw, no reconnection', async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 1, register });
    const frontend = await cluster.startFrontend();
    const a = client({ frontendUrl: frontend.url, autoConnect: false });
    const queued = a.emitWithAck('echo', 1);
    await a.close();
    await a.close();
    await expect(queued).rejects.toMatchObject({ name: 'ClientError', code: 'CLOSED' });
    expect(() => a.emit('echo', 2)).toThrow(ClientError);
    expect(a.state).toBe('closed');
  });
});

describe('client bundle', () => {
  test('client - bundles for browsers with only the dependency-free protocol of shared: no ioredis, pino or Node built-ins', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../packages/client/src/index.ts', import.meta.url))],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      conditions: ['source'],
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((path) => path.includes('socket.io-client'))).toBe(true);
    expect(inputs.filter((path) => /ioredis|pino|packages\/shared/.test(path))).toEqual([
      'packages/shared/src/protocol.ts',
    ]);
  });
});

describe('socket.io-client', () => {
  test('socket.io-client - a plain client works directly against an io-node', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 1, register });
    const [a, b] = cluster.ioNodes.map((node) => connectPlain(node.url, { transports: ['websocket'] }));
    plain.push(a!, b!);
    await Promise.all([a, b].map((s) => new Promise<void>((resolve) => s!.once('connect', resolve))));
    expect(await a!.emitWithAck('echo', 'plain', 2)).toEqual(['plain', 2]);
    expect(await a!.emitWithAck('where')).toBe(cluster.ioNodes[0]!.nodeId);
    await a!.emitWithAck('join', 'p');
    await b!.emitWithAck('join', 'p');
    const got = new Promise((resolve) => b!.once('room', resolve));
    await a!.emitWithAck('to room', 'p', 'across nodes');
    expect(await got).toBe('across nodes');
  });
});
