import type { AppNode } from '@iocluster/app-node';
import type { IoclusterClient, RecoveryReport } from '@iocluster/client';
import { createKeys } from '@iocluster/shared';
import { SignJWT } from 'jose';
import { io as connectPlain, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { clientFactory, next, recoveringClient } from './support/clients.js';
import { type Cluster, collect, setup } from './support/cluster.js';
import { until } from './support/poll.js';
import { ioNodeKilledWhilePublishing } from './support/scenarios.js';

let cluster: Cluster | undefined;
const clients: IoclusterClient[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const socket of sockets.splice(0)) socket.disconnect();
  await cluster?.cleanup();
  cluster = undefined;
});

const fast = { HEARTBEAT_INTERVAL_MS: '200', HEARTBEAT_TTL_MS: '600' };

const client = clientFactory(clients, { backoffMinMs: 50, backoffMaxMs: 200 });

const rawClient = (url: string, iocluster: Record<string, unknown>) =>
  recoveringClient(sockets, url, iocluster);

describe('recovery', () => {
  test('recovery - SIGKILL of the io-node holding 20 clients while 5 others publish: each gets every message once, in order', async () => {
    cluster = await setup({
      appNodes: 1,
      register: registerTestApp,
      appNodeOptions: { history: { rooms: ['h:*'] } },
      ioNodeOptions: { heartbeatIntervalMs: 200, heartbeatTtlMs: 600 },
    });
    const c = cluster;
    const frontend = await c.startFrontend({ registryRefreshMs: 100 });
    const victim = await c.startChildIoNode(fast);
    const listeners = Array.from({ length: 20 }, () => client({ frontendUrl: frontend.url }));
    const reports = await ioNodeKilledWhilePublishing(c, {
      victim,
      listeners,
      publishers: 5,
      perPublisher: 40,
    });
    // Messages published while the listeners were away came back by replay.
    expect(reports.reduce((n, report) => n + report.missed, 0)).toBeGreaterThan(0);
  });

  test('recovery - events unanswered when the io-node died are sent again: a finished first run answers, the others run once', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const runs: number[] = [];
    let started: () => void = () => undefined;
    const allStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    cluster = await setup({
      appNodes: 1,
      register: (app: AppNode) => {
        registerTestApp(app);
        app.on('gated', async (_socket, n: number) => {
          runs.push(n);
          started();
          await gate;
          return n * 10;
        });
      },
      ioNodeOptions: { heartbeatIntervalMs: 200, heartbeatTtlMs: 600 },
    });
    const c = cluster;
    const frontend = await c.startFrontend({ registryRefreshMs: 100 });
    const victim = await c.startChildIoNode(fast);
    // Discovery after the first connection waits until the test lets it go on.
    let reconnect: () => void = () => undefined;
    const mayReconnect = new Promise<void>((resolve) => {
      reconnect = resolve;
    });
    let discoveries = 0;
    const gatedFetch: typeof fetch = async (input, init) => {
      if (discoveries++ > 0) await mayReconnect;
      return fetch(input, init);
    };
    const a = client({ frontendUrl: frontend.url, fetch: gatedFetch });
    await next(a, 'connected');
    await c.startIoNode();
    // Per-client order: event 1 runs (and waits at the gate); 2-5 wait behind it.
    const answers = Promise.all([1, 2, 3, 4, 5].map((n) => a.emitWithAck('gated', n)));
    await allStarted;
    expect(runs).toEqual([1]);
    const lost = next(a, 'disconnected');
    await victim.kill();
    await lost;
    release();
    // Event 1's first run finishes and its answer is kept (its reply went to the dead node's inbox).
    // Events 2-5 ran with it if they shared its job, else they wait on the client for the reconnection.
    const keptAnswers = async () => {
      const [key] = await c.redis.keys(`${c.prefix}:session:*:replies`);
      return key ? c.redis.hget(key, '0') : null;
    };
    expect(await until(keptAnswers, (answer) => answer !== null, 5_000)).toBe('{"result":10}');
    reconnect();
    expect(await answers).toEqual([10, 20, 30, 40, 50]);
    expect(runs).toEqual([1, 2, 3, 4, 5]);
    expect(a.nodeId).not.toBe(victim.nodeId);
  });

  test('recovery - a client back after the recovery window is told recovered: false and starts a new session', async () => {
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: registerTestApp,
      ioNodeOptions: { recoveryWindowMs: 1_000 },
    });
    const c = cluster;
    const url = c.ioNodes[0]!.url;
    const first = await rawClient(url, { v: 1 });
    expect(await first.socket.emitWithAck('join', 'r')).toEqual(['r']);
    first.socket.io.engine.close();
    const key = createKeys(c.prefix).session(first.session);
    await until(
      () => c.redis.pttl(key),
      (ttl) => ttl > 0,
      5_000,
    );
    await until(
      () => c.redis.exists(key),
      (n) => n === 0,
      5_000,
    );
    const socket = connectPlain(url, {
      transports: ['websocket'],
      reconnection: false,
      auth: { iocluster: { v: 1, session: first.session, positions: [] } },
    });
    sockets.push(socket);
    const [session, report] = await Promise.all([
      new Promise<string>((resolve) => socket.once('$session', resolve)),
      new Promise<RecoveryReport>((resolve) => socket.once('$recovered', resolve)),
    ]);
    expect(report).toEqual({ recovered: false, rooms: [], missed: 0, reason: 'expired' });
    expect(session).not.toBe(first.session);
    expect(await socket.emitWithAck('get')).toMatchObject({ rooms: [] });
  });

  test('recovery - within the window rooms and data come back; a trimmed history says recovered: false', async () => {
    cluster = await setup({
      ioNodes: 2,
      appNodes: 1,
      register: registerTestApp,
      appNodeOptions: { history: { rooms: ['h:*'], maxLength: 10 } },
      // 301 events at once, past the default burst (CLIENT_EVENT_BURST): this test is about the history.
      ioNodeOptions: { clientEventBurst: 500 },
    });
    const c = cluster;
    const first = await rawClient(c.ioNodes[0]!.url, { v: 1 });
    const position = new Promise<unknown[]>((resolve) =>
      first.socket.once('$pos', (...args) => resolve(args)),
    );
    await first.socket.emitWithAck('join', 'h:busy');
    await first.socket.emitWithAck('join', 'plain');
    await first.socket.emitWithAck('set', { nick: 'ann' });
    const [room, epoch, offset] = await position;
    expect([room, offset]).toEqual(['h:busy', 0]);
    first.socket.io.engine.close();

    const publisher = await c.connect(1);
    // Far past maxLength: Redis trims whole blocks of entries, so this leaves the first ones behind.
    for (let i = 0; i < 300; i++) publisher.emit('room only', 'h:busy', i);
    expect(await publisher.emitWithAck('room only', 'h:busy', 300)).toBe(true);

    const socket = connectPlain(c.ioNodes[1]!.url, {
      transports: ['websocket'],
      reconnection: false,
      auth: { iocluster: { v: 1, session: first.session, positions: [['h:busy', epoch, 0]] } },
    });
    sockets.push(socket);
    const report = await new Promise<RecoveryReport>((resolve) => socket.once('$recovered', resolve));
    expect(report).toMatchObject({ recovered: false, reason: 'history-lost' });
    expect(report.rooms.sort()).toEqual(['h:busy', 'plain']);
    expect(await socket.emitWithAck('get')).toMatchObject({ data: { nick: 'ann' } });
    // Live messages flow again to the recovered socket, as $h with their position.
    const live = collect<unknown>(socket, '$h');
    await publisher.emitWithAck('room only', 'h:busy', 'after');
    await live.until(1);
    expect(live.items).toHaveLength(1);
  });

  test('recovery - an anonymous client recovered on another io-node stays one member: no left, no second joined', async () => {
    cluster = await setup({
      appNodes: 1,
      register: (app: AppNode) => {
        registerTestApp(app);
        app.on('pjoin', async (socket, room: string) => {
          await socket.join(room, { presence: { nick: 'anon' } });
          return socket.memberId;
        });
        app.on('count', (_socket, room: string) => app.presenceCount(room));
      },
      ioNodeOptions: { heartbeatIntervalMs: 200, heartbeatTtlMs: 600 },
    });
    const c = cluster;
    const frontend = await c.startFrontend({ registryRefreshMs: 100 });
    const victim = await c.startChildIoNode(fast);
    const a = client({ frontendUrl: frontend.url });
    await next(a, 'connected');
    const memberId = (await a.emitWithAck('pjoin', 'p:room')) as string;
    // A client that does not come back: its `left`, from the same purge, marks when all of them are out.
    const gone = (await rawClient(victim.url, { v: 1 })).socket;
    const goneId = (await gone.emitWithAck('pjoin', 'p:room')) as string;
    const survivor = await c.startIoNode();
    const observer = await c.connect(0);
    const changes = collect<{ room: string; joined?: { id: string }; left?: { id: string } }>(
      observer,
      'presence',
    );
    await observer.emitWithAck('pjoin', 'p:room');
    const recovered = next(a, 'recovered');
    const purged = new Promise<void>((resolve) => survivor.on('peer-expired', () => resolve()));
    await victim.kill();
    expect((await recovered)[0]).toMatchObject({ recovered: true, rooms: ['p:room'] });
    await purged;
    await until(
      async () => changes.items,
      (items) => items.some((x) => x.left?.id === goneId),
      10_000,
    );
    // After the dead node's entries are gone: still one member for the recovered client, under its id.
    expect(await a.emitWithAck('count', 'p:room')).toBe(2);
    expect(await a.emitWithAck('pjoin', 'p:room')).toBe(memberId);
    const marker = await observer.emitWithAck('count', 'p:room');
    expect(marker).toBe(2);
    expect(changes.items.filter((x) => x.left?.id === memberId)).toEqual([]);
    expect(changes.items.filter((x) => x.joined?.id === memberId)).toEqual([]);
  });
  test('recovery - a JWT user back with a fresh token (new iat/exp, same sub) recovers; another sub is refused', async () => {
    const secret = 'recovery-test-secret-of-32-bytes!';
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: registerTestApp,
      ioNodeOptions: { jwt: { secret } },
    });
    const c = cluster;
    const url = c.ioNodes[0]!.url;
    const token = (sub: string, expInS: number) =>
      new SignJWT({ sub, name: sub })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + expInS)
        .sign(new TextEncoder().encode(secret));
    const back = async (session: string, auth: string): Promise<RecoveryReport> => {
      const socket = connectPlain(url, {
        transports: ['websocket'],
        reconnection: false,
        auth: { token: auth, iocluster: { v: 1, session, positions: [] } },
      });
      sockets.push(socket);
      return new Promise<RecoveryReport>((resolve) => socket.once('$recovered', resolve));
    };
    const join = async (sub: string): Promise<string> => {
      const socket = connectPlain(url, {
        transports: ['websocket'],
        reconnection: false,
        auth: { token: await token(sub, 300), iocluster: { v: 1 } },
      });
      sockets.push(socket);
      const session = await new Promise<string>((resolve) => socket.once('$session', resolve));
      expect(await socket.emitWithAck('join', 'r')).toEqual(['r']);
      socket.io.engine.close();
      return session;
    };

    const adaSession = await join('ada');
    expect(await back(adaSession, await token('ada', 600))).toEqual({
      recovered: true,
      rooms: ['r'],
      missed: 0,
    });
    const bobSession = await join('bob');
    expect(await back(bobSession, await token('eve', 300))).toMatchObject({
      recovered: false,
      reason: 'user-changed',
    });
  });
});
