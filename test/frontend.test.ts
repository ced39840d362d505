import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import type { AppNode } from '@iocluster/app-node';
import { type RedisServer, startRedisServer } from '@iocluster/devkit';
import type { Frontend } from '@iocluster/frontend';
import { createKeys, type IoNodeRecord, loadSettings } from '@iocluster/shared';
import { type Socket as ClientSocket, io as connectClient } from 'socket.io-client';
import { afterEach, describe, expect, inject, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, nextEvent, type SetupOptions, setup } from './support/cluster.js';
import { listed, until } from './support/poll.js';

let cluster: Cluster | undefined;
let ownRedis: RedisServer | undefined;
const clients: ClientSocket[] = [];
afterEach(async () => {
  for (const socket of clients.splice(0)) socket.disconnect();
  await cluster?.cleanup();
  await ownRedis?.stop();
  cluster = undefined;
  ownRedis = undefined;
});

async function start(options?: SetupOptions): Promise<Cluster> {
  cluster = await setup(options);
  return cluster;
}

/** The test app plus `where`, which answers the id of the io-node holding the client. */
function register(app: AppNode): void {
  registerTestApp(app);
  app.on('where', (socket) => socket.nodeId);
}

async function getJson(url: string): Promise<{ status: number; body: unknown; type: string | null }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json(), type: res.headers.get('content-type') };
}

async function picks(frontend: Frontend, strategy: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { status, body } = await getJson(`${frontend.url}/api/connect?strategy=${strategy}`);
    expect(status).toBe(200);
    ids.push((body as { nodeId: string }).nodeId);
  }
  return ids;
}

/** A socket.io-client through `url` (the frontend in proxy mode), connected. */
async function connectThrough(
  url: string,
  options: Parameters<typeof connectClient>[1] = {},
): Promise<ClientSocket> {
  const socket = connectClient(url, { reconnection: false, ...options });
  clients.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/** GET with an Origin header (fetch may not set it), returning status and headers. */
function getWithOrigin(
  url: string,
  origin: string,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { origin } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('frontend api', () => {
  test('io-nodes - lists live records with every field, in node id order', async () => {
    const c = await start();
    const b = await c.startIoNode({ nodeId: 'node-b' });
    const a = await c.startIoNode({ nodeId: 'node-a' });
    const frontend = await c.startFrontend();
    const { status, body, type } = await getJson(`${frontend.url}/api/io-nodes`);
    expect(status).toBe(200);
    expect(type).toMatch(/^application\/json/);
    const { nodes } = body as { nodes: IoNodeRecord[] };
    expect(nodes.map((n) => [n.nodeId, n.url])).toEqual([
      ['node-a', a.url],
      ['node-b', b.url],
    ]);
    for (const node of nodes) {
      expect(node).toEqual({
        nodeId: node.nodeId,
        url: node.url,
        connections: 0,
        startedAt: expect.any(Number),
        version: '0.1.0',
        lastSeen: expect.any(Number),
        eventsPerSecond: 0,
      });
      expect(node.lastSeen).toBeGreaterThanOrEqual(node.startedAt);
    }
  });

  test('connect - fewest-connections picks the lighter node, and a burst spreads until loads are even', async () => {
    // Long heartbeats: counts reach the registry only through the early heartbeat a connection triggers,
    // so nothing refreshes them during the burst below.
    const c = await start({
      appNodes: 1,
      register,
      ioNodeOptions: { heartbeatIntervalMs: 60_000, heartbeatTtlMs: 120_000 },
    });
    const a = await c.startIoNode({ nodeId: 'a' });
    const b = await c.startIoNode({ nodeId: 'b' });
    const frontend = await c.startFrontend({ registryRefreshMs: 50 });
    await Promise.all([c.connect(0), c.connect(0), c.connect(0), c.connect(1)]);
    const counts = await until(
      () => listed(frontend),
      (nodes) => nodes.map((n) => n.connections).join() === '3,1',
      3_000,
    );
    expect(counts.map((n) => n.nodeId)).toEqual([a.nodeId, b.nodeId]);

    const burst = await picks(frontend, 'fewest-connections', 6);
    // 3 vs 1: B twice to even them, then the picks alternate (ties go to the first by id).
    expect(burst).toEqual(['b', 'b', 'a', 'b', 'a', 'b']);
    // The default strategy is fewest-connections too: loads are 5 and 5, so the tie goes to a.
    const { body } = await getJson(`${frontend.url}/api/connect`);
    expect(body).toEqual({ nodeId: 'a', url: a.url });
  });

  test('connect - round-robin walks live nodes in id order and keeps going when one leaves', async () => {
    const c = await start();
    for (const nodeId of ['n2', 'n3', 'n1']) await c.startIoNode({ nodeId });
    const frontend = await c.startFrontend();
    expect(await picks(frontend, 'round-robin', 7)).toEqual(['n1', 'n2', 'n3', 'n1', 'n2', 'n3', 'n1']);
    // n2 would be next; it leaves, so the walk goes on from n1 to n3.
    await c.ioNodes.find((n) => n.nodeId === 'n2')!.close();
    await until(
      () => listed(frontend),
      (nodes) => nodes.length === 2,
      2_000,
    );
    expect(await picks(frontend, 'round-robin', 4)).toEqual(['n3', 'n1', 'n3', 'n1']);
  });

  test('connect - random returns only live nodes and reaches each of them over 200 picks', async () => {
    const c = await start();
    for (const nodeId of ['r1', 'r2', 'r3']) await c.startIoNode({ nodeId });
    const frontend = await c.startFrontend();
    const seen = await picks(frontend, 'random', 200);
    const tally = new Map<string, number>();
    for (const id of seen) tally.set(id, (tally.get(id) ?? 0) + 1);
    expect([...tally.keys()].sort()).toEqual(['r1', 'r2', 'r3']);
    // Uniform would be ~67 each; 30 is more than 6 standard deviations below.
    for (const count of tally.values()) expect(count).toBeGreaterThan(30);
  });

  test('connect - an unknown or repeated strategy is a 400 BAD_STRATEGY', async () => {
    const c = await start({ ioNodes: 1 });
    const frontend = await c.startFrontend();
    for (const query of ['strategy=least-loaded', 'strategy=', 'strategy=random&strategy=random']) {
      const { status, body } = await getJson(`${frontend.url}/api/connect?${query}`);
      expect(status).toBe(400);
      expect(body).toEqual({ error: { code: 'BAD_STRATEGY', message: expect.stringContaining('strategy') } });
    }
  });

  test('no io-node - io-nodes, connect and config.js answer 503 NO_IO_NODES; readyz says why', async () => {
    const c = await start();
    const frontend = await c.startFrontend();
    for (const path of ['/api/io-nodes', '/api/connect', '/api/connect?strategy=random', '/config.js']) {
      const { status, body } = await getJson(`${frontend.url}${path}`);
      expect(status).toBe(503);
      expect(body).toEqual({
        error: { code: 'NO_IO_NODES', message: expect.stringMatching(/^no live io-node; /) },
      });
    }
    // Strategy validation comes first: a bad request stays a 400 even with no node.
    expect((await getJson(`${frontend.url}/api/connect?strategy=nope`)).status).toBe(400);
    expect(await getJson(`${frontend.url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await getJson(`${frontend.url}/readyz`)).toMatchObject({
      status: 503,
      body: { status: 'not-ready', redis: 'ok', ioNodes: 0, reasons: ['no live io-node'] },
    });

    // Once a node registers, the frontend hears the announcement and is ready.
    const node = await c.startIoNode();
    await until(
      () => listed(frontend),
      (nodes) => nodes.length === 1,
      2_000,
    );
    expect(await getJson(`${frontend.url}/readyz`)).toMatchObject({
      status: 200,
      body: { status: 'ready', redis: 'ok', ioNodes: 1, reasons: [] },
    });
    expect((await getJson(`${frontend.url}/api/connect`)).body).toEqual({
      nodeId: node.nodeId,
      url: node.url,
    });
  });

  test('readyz - Redis unreachable is a 503 that says so, and a stale node list is not served', async () => {
    ownRedis = await startRedisServer();
    const c = await start({ ioNodes: 1, redisUrl: ownRedis.url });
    const frontend = await c.startFrontend({
      registryRefreshMs: 100,
      registryStaleMs: 500,
      readyTimeoutMs: 200,
    });
    expect((await getJson(`${frontend.url}/readyz`)).status).toBe(200);
    await ownRedis.stop();
    const notReady = await until(
      () => getJson(`${frontend.url}/readyz`),
      (r) => r.status === 503,
      3_000,
    );
    expect(notReady.body).toMatchObject({ status: 'not-ready', redis: 'unreachable' });
    const stale = await until(
      () => getJson(`${frontend.url}/api/io-nodes`),
      (r) => r.status === 503,
      3_000,
    );
    expect(stale.body).toMatchObject({ error: { code: 'REGISTRY_UNAVAILABLE' } });
    expect(await getJson(`${frontend.url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    await ownRedis.start();
    // The io-node re-registers on its next heartbeat (Redis came back empty) and the frontend reads it.
    await until(
      () => getJson(`${frontend.url}/readyz`),
      (r) => r.status === 200,
      5_000,
    );
  });

  test('config.js - declares SOCKET_SERVERS with the live io-node URLs as JavaScript', async () => {
    const c = await start();
    const b = await c.startIoNode({ nodeId: 'cfg-b' });
    const a = await c.startIoNode({ nodeId: 'cfg-a' });
    const frontend = await c.startFrontend();
    const res = await fetch(`${frontend.url}/config.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/javascript/);
    const text = await res.text();
    expect(text).toBe(`var SOCKET_SERVERS = ${JSON.stringify([a.url, b.url])};\n`);
    const context: { SOCKET_SERVERS?: unknown } = {};
    runInNewContext(text, context);
    expect(context.SOCKET_SERVERS).toEqual([a.url, b.url]);
  });

  test('api/config - tells pages whether the frontend proxies Socket.IO, even with no io-node', async () => {
    const c = await start();
    const direct = await c.startFrontend({ proxy: false });
    const proxying = await c.startFrontend({ proxy: true, proxyPath: '/rt/' });
    expect(await (await fetch(`${direct.url}/api/config`)).json()).toEqual({ proxy: false });
    expect(await (await fetch(`${proxying.url}/api/config`)).json()).toEqual({
      proxy: true,
      proxyPath: '/rt/',
    });
  });

  test('static - pages from staticDir are served beside the API', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iocluster-static-'));
    try {
      await writeFile(join(dir, 'index.html'), '<!doctype html><title>chat</title>');
      const c = await start({ ioNodes: 1 });
      const frontend = await c.startFrontend({ staticDir: dir });
      const page = await fetch(`${frontend.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toBe('<!doctype html><title>chat</title>');
      expect((await fetch(`${frontend.url}/missing.html`)).status).toBe(404);
      expect((await getJson(`${frontend.url}/api/nope`)).body).toMatchObject({
        error: { code: 'NOT_FOUND' },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('cors - a polling request from the frontend origin gets CORS headers from the io-node, others none', async () => {
    const c = await start({ appNodes: 1, register });
    const frontend = await c.startFrontend();
    const node = await c.startIoNode({ corsOrigins: [frontend.url] });
    const handshake = `${node.url}/socket.io/?EIO=4&transport=polling`;
    const allowed = await getWithOrigin(handshake, frontend.url);
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe(frontend.url);
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    const foreign = await getWithOrigin(handshake, 'http://elsewhere.invalid');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();

    // And a real cross-origin client: polling only, from the frontend's origin, reaches an app-node.
    const socket = await connectThrough(node.url, {
      transports: ['polling'],
      extraHeaders: { origin: frontend.url },
    });
    expect(await socket.emitWithAck('echo', 'cross-origin')).toEqual(['cross-origin']);
  });
});

describe('frontend proxy', () => {
  test('plain client - io(frontendUrl) with no option on either side connects and talks to an app-node', async () => {
    const c = await start({ ioNodes: 2, appNodes: 1, register });
    // The frontend as `node packages/frontend/dist/main.js` runs it: nothing about proxying is set.
    const frontend = await c.startFrontend();
    const { io } = await import('socket.io-client');
    const socket = io(frontend.url, { reconnection: false });
    clients.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    expect(await socket.emitWithAck('echo', 'plain')).toEqual(['plain']);
    expect(c.ioNodes.map((n) => n.nodeId)).toContain(await socket.emitWithAck('where'));
    await until(
      async () => socket.io.engine.transport.name,
      (name) => name === 'websocket',
      5_000,
    );
  });

  test('plain client - with FRONTEND_PROXY=off the Socket.IO path answers what to do, not a bare 404', async () => {
    const c = await start({ ioNodes: 1, appNodes: 1, register });
    const frontend = await c.startFrontend({ proxy: false });
    const res = await fetch(`${frontend.url}/socket.io/?EIO=4&transport=polling`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('NO_PROXY');
    expect(body.error.message).toMatch(/GET \/api\/connect/);
    expect(body.error.message).toMatch(/FRONTEND_PROXY=on/);
    // A plain client sees it in its connect_error: the failed polling request, read before the client
    // drops it.
    const plain = connectClient(frontend.url, { transports: ['polling'], reconnection: false });
    clients.push(plain);
    const failed = await new Promise<{ message: string; text: string | undefined }>((resolve) =>
      plain.once('connect_error', (err: Error & { context?: { responseText?: string } }) =>
        resolve({ message: err.message, text: err.context?.responseText }),
      ),
    );
    expect(failed).toEqual({ message: 'xhr poll error', text: JSON.stringify(body) });
    // What the sentence says works: /api/connect names an io-node a plain client connects to.
    const { url } = (await (await fetch(`${frontend.url}/api/connect`)).json()) as { url: string };
    const direct = await connectThrough(url);
    expect(await direct.emitWithAck('echo', 'direct')).toEqual(['direct']);
  });

  test('proxy - WebSocket and polling clients through the frontend exchange room events via app-nodes', async () => {
    const c = await start({ ioNodes: 2, appNodes: 2, register });
    const frontend = await c.startFrontend({ proxy: true, strategy: 'round-robin' });
    const ws = await connectThrough(frontend.url, { transports: ['websocket'] });
    const polling = await connectThrough(frontend.url, { transports: ['polling'] });
    const upgrading = await connectThrough(frontend.url);
    const ids = c.ioNodes.map((n) => n.nodeId).sort();
    // Round-robin through the proxy: the three sessions land on alternating nodes.
    const where = await Promise.all([ws, polling, upgrading].map((s) => s.emitWithAck('where')));
    expect(where).toEqual([ids[0], ids[1], ids[0]]);

    for (const socket of [ws, polling, upgrading])
      expect(await socket.emitWithAck('join', 'lobby')).toEqual(['lobby']);
    const received = [ws, polling, upgrading].map((s) => collect(s, 'room'));
    const markers = [ws, polling, upgrading].map((s) => nextEvent(s, 'marker'));
    expect(await polling.emitWithAck('to room', 'lobby', { text: 'hello' })).toBe(true);
    await Promise.all(markers);
    expect(received.map((r) => r.items)).toEqual([
      [{ text: 'hello' }],
      [{ text: 'hello' }],
      [{ text: 'hello' }],
    ]);

    // The default client upgraded to WebSocket through the proxy (its upgrade carried the sid).
    await until(
      async () => upgrading.io.engine.transport.name,
      (name) => name === 'websocket',
      5_000,
    );
    expect(await upgrading.emitWithAck('where')).toBe(ids[0]);
    expect(polling.io.engine.transport.name).toBe('polling');
    expect(ws.io.engine.transport.name).toBe('websocket');
  });

  test('proxy - a polling session stays on one io-node across many requests', async () => {
    const c = await start({ ioNodes: 3, appNodes: 1, register });
    const frontend = await c.startFrontend({ proxy: true, strategy: 'random' });
    const polling = await connectThrough(frontend.url, { transports: ['polling'] });
    const home = (await polling.emitWithAck('where')) as string;
    expect(c.ioNodes.map((n) => n.nodeId)).toContain(home);
    const seqs = collect<number>(polling, 'seq');
    for (let n = 0; n < 60; n++) {
      expect(await polling.emitWithAck('seq', n)).toBe(n);
      if (n % 10 === 0) expect(await polling.emitWithAck('where')).toBe(home);
    }
    await seqs.until(60);
    expect(seqs.items).toEqual(Array.from({ length: 60 }, (_, n) => n));
    expect(polling.io.engine.transport.name).toBe('polling');
    expect(c.ioNodes.map((n) => n.connections)).toEqual(c.ioNodes.map((n) => (n.nodeId === home ? 1 : 0)));
  });

  test('proxy - when the io-node of a session dies, the next handshake goes to a live one', async () => {
    const c = await start({ appNodes: 1, register });
    // Default heartbeats: the dead node is still in the registry when the client comes back.
    const doomed = await c.startChildIoNode();
    const frontend = await c.startFrontend({ proxy: true });
    await until(
      () => listed(frontend),
      (nodes) => nodes.length === 1,
      2_000,
    );
    const socket = await connectThrough(frontend.url, {
      transports: ['polling'],
      reconnection: true,
      reconnectionDelay: 50,
      randomizationFactor: 0,
    });
    expect(await socket.emitWithAck('where')).toBe(doomed.nodeId);
    const survivor = await c.startIoNode();
    // Two clients on the survivor: by the registry's counts the dead node (1) would look the better pick.
    await Promise.all([c.connect(0), c.connect(0)]);
    await until(
      () => listed(frontend),
      (nodes) => nodes.find((n) => n.nodeId === survivor.nodeId)?.connections === 2,
      3_000,
    );

    const disconnected = nextEvent(socket, 'disconnect');
    const reconnected = new Promise<void>((resolve) => socket.io.once('reconnect', () => resolve()));
    await doomed.kill();
    await disconnected;
    await reconnected;
    expect(await socket.emitWithAck('where')).toBe(survivor.nodeId);
    expect(await socket.emitWithAck('echo', 'after failover')).toEqual(['after failover']);
    // The dead node's record has not expired yet: the frontend stopped handing it out because it refuses
    // connections (its watch connection sees the refusal within moments of the kill; the client may have
    // been sent to the survivor first).
    await until(
      async () => (await listed(frontend)).map((n) => n.nodeId),
      (ids) => ids.length === 1 && ids[0] === survivor.nodeId,
      2_000,
    );
    const expiresAt = await c.redis.zscore(createKeys(c.prefix).inboxNodes, doomed.nodeId);
    expect(Number(expiresAt)).toBeGreaterThan(Date.now());
  });
});

describe('frontend process', () => {
  test('config - FRONTEND_* variables are validated with errors that name them', () => {
    const load = (env: Record<string, string>) => loadSettings('frontend', env);
    expect(() => load({ FRONTEND_STATIC_DIR: '/no/such/dir/iocluster' })).toThrow(/^FRONTEND_STATIC_DIR /);
    expect(() => load({ FRONTEND_STATIC_DIR: 'package.json' })).toThrow(
      /^FRONTEND_STATIC_DIR .*not a directory/,
    );
    expect(() => load({ FRONTEND_PROXY_PATH: 'socket.io' })).toThrow(/^FRONTEND_PROXY_PATH /);
    expect(() => load({ FRONTEND_REGISTRY_REFRESH_MS: '10' })).toThrow(/^FRONTEND_REGISTRY_REFRESH_MS /);
    expect(() => load({ FRONTEND_STRATEGY: 'busiest' })).toThrow(/^FRONTEND_STRATEGY /);
    const frontend = load({
      FRONTEND_STATIC_DIR: 'test',
      FRONTEND_PROXY: 'on',
      FRONTEND_PROXY_PATH: '/rt/',
      FRONTEND_REGISTRY_REFRESH_MS: '250',
    });
    expect(frontend).toMatchObject({ proxy: true, proxyPath: '/rt/', registryRefreshMs: 250 });
    expect(frontend.staticDir).toBe(join(process.cwd(), 'test'));
  });

  test('main - the frontend process serves static pages, the API and proxied Socket.IO from its environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iocluster-static-'));
    const c = await start({ ioNodes: 1, appNodes: 1, register });
    const child = fork('packages/frontend/src/main.ts', [], {
      execArgv: ['--import', 'tsx', '--conditions=source'],
      env: {
        ...process.env,
        REDIS_URL: inject('redisUrl'),
        IOCLUSTER_PREFIX: c.prefix,
        FRONTEND_HOST: '127.0.0.1',
        FRONTEND_PORT: '0',
        FRONTEND_PROXY: 'on',
        FRONTEND_STATIC_DIR: dir,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await writeFile(join(dir, 'index.html'), 'hello');
      const { url } = await new Promise<{ url: string }>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`frontend exited with ${code} before it was ready`)));
        child.on('message', (message: { type?: string; url: string }) => {
          if (message.type === 'ready') resolve(message);
        });
      });
      expect(await (await fetch(`${url}/`)).text()).toBe('hello');
      expect((await getJson(`${url}/api/connect`)).body).toEqual({
        nodeId: c.ioNodes[0]!.nodeId,
        url: c.ioNodes[0]!.url,
      });
      const socket = await connectThrough(url, { transports: ['polling'] });
      expect(await socket.emitWithAck('where')).toBe(c.ioNodes[0]!.nodeId);
      socket.disconnect();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
