import type { AppNode, RemoteSocket } from '@iocluster/app-node';
import type { IoclusterClient } from '@iocluster/client';
import { createKeys, userRoom } from '@iocluster/shared';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import { authenticateByAuthUser } from './fixtures/authenticate.js';
import { clientFactory, next } from './support/clients.js';
import { type Cluster, collect, nextEvent, setup } from './support/cluster.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
const extraClients: Socket[] = [];
const libraryClients: IoclusterClient[] = [];
const libraryClient = clientFactory(libraryClients);
afterEach(async () => {
  for (const socket of extraClients.splice(0)) socket.disconnect();
  await Promise.all(libraryClients.splice(0).map((client) => client.close()));
  await cluster?.cleanup();
  cluster = undefined;
});

/** Heartbeats short enough for a test, long enough for a loaded 2-core machine. */
const HEARTBEAT = { heartbeatIntervalMs: 1_000, heartbeatTtlMs: 3_000 };
const CHILD_HEARTBEAT = { HEARTBEAT_INTERVAL_MS: '1000', HEARTBEAT_TTL_MS: '3000' };
const AUTH_IO_NODE = 'test/fixtures/auth-io-node.ts';

/** When each handler's ack wait settled, ms after it started (the deadline test reads it). */
const ackWaits: { ms: number; outcome: string }[] = [];

/** A fetched socket as plain data, for comparisons. */
function plain(socket: RemoteSocket) {
  return {
    id: socket.id,
    nodeId: socket.nodeId,
    user: socket.user,
    data: socket.data,
    rooms: [...socket.rooms].sort(),
    address: socket.handshake.address,
  };
}

function register(app: AppNode): void {
  app.on('join', async (socket, room: string) => {
    await socket.join(room);
    return true;
  });
  app.on('set', (socket, data: Record<string, unknown>) => {
    socket.setData(data);
    return true;
  });
  app.on('to user', (socket, user: string, text: string) => {
    app.toUser(user).emit('private', { from: (socket.user as { id: string }).id, text });
    return true;
  });
  app.on('disconnect user', async (_socket, user: string, reason: string) => {
    return (await app.disconnectUser(user, reason)).count;
  });
  app.on('ask', async (socket, question: string, ms: number) => {
    const started = performance.now();
    try {
      const answer = await socket.timeout(ms).emitWithAck('question', question);
      ackWaits.push({ ms: performance.now() - started, outcome: 'answer' });
      return { answer };
    } catch (err) {
      ackWaits.push({ ms: performance.now() - started, outcome: (err as { code: string }).code });
      return { error: (err as { code: string }).code };
    }
  });
  app.on('ask room', async (socket, room: string, ms: number) => {
    const acks = await socket.to(room).timeout(ms).emitWithAck('question', 'everyone?');
    return {
      responses: [...acks.responses].sort(),
      answered: acks.answers.map((a) => a.socketId).sort(),
      missing: [...acks.missing].sort(),
      missingNodes: acks.missingNodes,
    };
  });
}

/** Answers `question` with `<its question> from <socket id>`. */
function answering(socket: Socket): Socket {
  socket.on('question', (question: string, ack: (answer: string) => void) =>
    ack(`${question} from ${socket.id}`),
  );
  return socket;
}

async function connectAs(url: string, user: string): Promise<Socket> {
  const socket = connectClient(url, { transports: ['websocket'], reconnection: false, auth: { user } });
  extraClients.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/** The code of a refused connection (`connect_error`'s `data.code`), or 'connected'. */
async function refusalOf(url: string, user: string): Promise<string> {
  try {
    await connectAs(url, user);
    return 'connected';
  } catch (err) {
    return String((err as { data?: { code?: unknown } }).data?.code);
  }
}

const byId = <T extends { id: string }>(list: T[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));

describe('server api', () => {
  test('server api - fetchSockets from either app-node describes sockets on both io-nodes; except and user rooms select', async () => {
    cluster = await setup({
      ioNodes: 2,
      appNodes: 2,
      register,
      ioNodeOptions: { authenticate: authenticateByAuthUser },
    });
    const c = cluster;
    const [io0, io1] = c.ioNodes as [(typeof c.ioNodes)[0], (typeof c.ioNodes)[0]];
    const ann = await connectAs(io0.url, 'ann');
    const bob = await connectAs(io1.url, 'bob');
    const anon = await connectAs(io1.url, '');
    for (const s of [ann, bob, anon]) expect(await s.emitWithAck('join', 'lobby')).toBe(true);
    expect(await ann.emitWithAck('set', { nick: 'Ann' })).toBe(true);

    for (const app of c.appNodes) {
      const found = byId((await app.in('lobby').fetchSockets()).map(plain));
      expect(found).toEqual(
        byId([
          {
            id: ann.id!,
            nodeId: io0.nodeId,
            user: { id: 'ann' },
            data: { nick: 'Ann' },
            rooms: ['lobby'],
            address: expect.any(String),
          },
          {
            id: bob.id!,
            nodeId: io1.nodeId,
            user: { id: 'bob' },
            data: {},
            rooms: ['lobby'],
            address: expect.any(String),
          },
          {
            id: anon.id!,
            nodeId: io1.nodeId,
            user: null,
            data: {},
            rooms: ['lobby'],
            address: expect.any(String),
          },
        ]),
      );
      const all = await app.fetchSockets();
      expect(all.map((s) => s.id).sort()).toEqual([ann.id, bob.id, anon.id].sort());
      const others = await app.except(ann.id!).fetchSockets();
      expect(others.map((s) => s.id).sort()).toEqual([bob.id, anon.id].sort());
      expect((await app.toUser('bob').fetchSockets()).map((s) => s.id)).toEqual([bob.id]);
      expect(await app.in('nobody-here').fetchSockets()).toEqual([]);
    }

    // A fetched socket acts on the io-node holding it.
    const hello = nextEvent<[string]>(bob, 'hello');
    const [remoteBob] = await c.appNodes[0]!.toUser('bob').fetchSockets();
    remoteBob!.emit('hello', 'from a fetched socket');
    expect(await hello).toEqual(['from a fetched socket']);
    const gone = nextEvent(anon, 'disconnect');
    const [remoteAnon] = await c.appNodes[1]!.in('lobby').except([ann.id!, bob.id!]).fetchSockets();
    remoteAnon!.disconnect();
    await gone;
  });

  test('server api - socketsJoin, socketsLeave and disconnectSockets reach members on both io-nodes; an emit after socketsJoin resolved reaches the new members', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 2, register });
    const c = cluster;
    const a = await c.connect(0);
    const b = await c.connect(1);
    const outsider = await c.connect(1);
    for (const s of [a, b]) expect(await s.emitWithAck('join', 'team')).toBe(true);
    expect(await outsider.emitWithAck('join', 'other')).toBe(true);

    const joined = await c.appNodes[0]!.in('team').socketsJoin(['news', 'alerts']);
    expect(joined).toEqual({ count: 2, missingNodes: [] });
    const news = [collect<string>(a, 'news'), collect<string>(b, 'news'), collect<string>(outsider, 'news')];
    c.appNodes[1]!.to('news').emit('news', 'first');
    await Promise.all([news[0]!.until(1), news[1]!.until(1)]);
    const rooms = async (id: string) =>
      [...((await c.appNodes[1]!.in(id).fetchSockets())[0]?.rooms ?? [])].sort();
    expect(await rooms(a.id!)).toEqual(['alerts', 'news', 'team']);
    expect(await rooms(b.id!)).toEqual(['alerts', 'news', 'team']);

    expect(await c.appNodes[1]!.in('team').except(a.id!).socketsLeave('news')).toEqual({
      count: 1,
      missingNodes: [],
    });
    expect(await rooms(b.id!)).toEqual(['alerts', 'team']);
    c.appNodes[0]!.to('news').emit('news', 'second');
    await news[0]!.until(2);
    expect(news[0]!.items).toEqual(['first', 'second']);
    expect(news[1]!.items).toEqual(['first']);
    expect(news[2]!.items).toEqual([]);

    const disconnected = [nextEvent(a, 'disconnect'), nextEvent(b, 'disconnect')];
    expect(await c.appNodes[0]!.in('alerts').disconnectSockets(true)).toEqual({ count: 2, missingNodes: [] });
    await Promise.all(disconnected);
    expect(outsider.connected).toBe(true);
    expect((await c.appNodes[0]!.fetchSockets()).map((s) => s.id)).toEqual([outsider.id]);
  });

  test('server api - toUser reaches every connection of a user on both io-nodes, disconnectUser ends them with the reason', async () => {
    cluster = await setup({
      ioNodes: 2,
      appNodes: 2,
      register,
      ioNodeOptions: { authenticate: authenticateByAuthUser },
    });
    const c = cluster;
    const [io0, io1] = c.ioNodes as [(typeof c.ioNodes)[0], (typeof c.ioNodes)[0]];
    const ann = await connectAs(io0.url, 'ann');
    const bobPhone = await connectAs(io0.url, 'bob');
    const bobLaptop = await connectAs(io1.url, 'bob');
    const inbox = [bobPhone, bobLaptop, ann].map((s) =>
      collect<{ from: string; text: string }>(s, 'private'),
    );
    expect(await ann.emitWithAck('to user', 'bob', 'hi bob')).toBe(true);
    await Promise.all([inbox[0]!.until(1), inbox[1]!.until(1)]);
    expect(inbox[0]!.items).toEqual([{ from: 'ann', text: 'hi bob' }]);
    expect(inbox[1]!.items).toEqual([{ from: 'ann', text: 'hi bob' }]);
    // The user room is routed: only io-nodes holding the user's connections are asked.
    expect((await c.redis.hkeys(createKeys(c.prefix).roomNodes(userRoom('bob')))).sort()).toEqual(
      [io0.nodeId, io1.nodeId].sort(),
    );

    const errors = [bobPhone, bobLaptop].map((s) =>
      nextEvent<[{ code: string; message: string }]>(s, '$error'),
    );
    const closed = [nextEvent(bobPhone, 'disconnect'), nextEvent(bobLaptop, 'disconnect')];
    expect(await ann.emitWithAck('disconnect user', 'bob', 'banned for spam')).toBe(2);
    for (const [error] of await Promise.all(errors)) {
      expect(error).toEqual({ code: 'DISCONNECTED', message: 'banned for spam' });
    }
    await Promise.all(closed);
    expect(ann.connected).toBe(true);
    expect(inbox[2]!.items).toEqual([]);
    expect(await c.appNodes[1]!.toUser('bob').fetchSockets()).toEqual([]);
  });

  test('server api - MAX_CONNECTIONS_PER_USER holds across io-nodes: the third connection is refused with its code, a freed place is taken again, a SIGKILLed io-node’s places free up', async () => {
    const limits = { authenticate: authenticateByAuthUser, maxConnectionsPerUser: 2, ...HEARTBEAT };
    cluster = await setup({ ioNodes: 2, appNodes: 1, register, ioNodeOptions: limits });
    const c = cluster;
    const [io0, io1] = c.ioNodes as [(typeof c.ioNodes)[0], (typeof c.ioNodes)[0]];
    const first = await connectAs(io0.url, 'u');
    await connectAs(io1.url, 'u');
    expect(await refusalOf(io0.url, 'u')).toBe('USER_CONNECTION_LIMIT');
    expect(await refusalOf(io1.url, 'u')).toBe('USER_CONNECTION_LIMIT');
    // Another user and anonymous clients are not counted against it.
    await connectAs(io0.url, 'v');
    await connectAs(io0.url, '');

    first.disconnect();
    await until(
      () => refusalOf(io1.url, 'u'),
      (code) => code === 'connected',
      10_000,
    );
    expect(await refusalOf(io0.url, 'u')).toBe('USER_CONNECTION_LIMIT');

    const doomed = await c.startChildIoNode(
      { ...CHILD_HEARTBEAT, MAX_CONNECTIONS_PER_USER: '2' },
      AUTH_IO_NODE,
    );
    await connectAs(doomed.url, 'k');
    await connectAs(doomed.url, 'k');
    expect(await refusalOf(io0.url, 'k')).toBe('USER_CONNECTION_LIMIT');
    await doomed.kill();
    // Its liveness record expires (3 s), a live node purges its entries.
    await until(
      () => refusalOf(io0.url, 'k'),
      (code) => code === 'connected',
      15_000,
    );
  });

  test('server api - socket.timeout().emitWithAck answers from the client, ACK_TIMEOUT from a silent one, never past the handler’s deadline', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 2, register, appNodeOptions: { handlerTimeoutMs: 2_000 } });
    const c = cluster;
    const talker = answering(await c.connect(0));
    const silent = await c.connect(1);
    ackWaits.length = 0;
    expect(await talker.emitWithAck('ask', 'ready?', 1_000)).toEqual({ answer: `ready? from ${talker.id}` });
    expect(await silent.emitWithAck('ask', 'ready?', 300)).toEqual({ error: 'ACK_TIMEOUT' });
    expect(ackWaits.map((w) => w.outcome)).toEqual(['answer', 'ACK_TIMEOUT']);
    expect(ackWaits[1]!.ms).toBeGreaterThanOrEqual(290);

    // Asked for 60 s with 2 s left: the wait ends with the handler's time, not a minute later.
    const started = performance.now();
    const answer = await silent.timeout(10_000).emitWithAck('ask', 'still there?', 60_000);
    expect(performance.now() - started).toBeLessThan(5_000);
    // The handler's TIMEOUT, or its own answer when the ack wait ended just before.
    expect([JSON.stringify({ error: 'ACK_TIMEOUT' }), 'TIMEOUT']).toContain(
      (answer as { error?: { code?: string } }).error?.code ?? JSON.stringify(answer),
    );
    await until(
      async () => ackWaits.length,
      (n) => n === 3,
      5_000,
    );
    expect(ackWaits[2]!.outcome).toBe('ACK_TIMEOUT');
    expect(ackWaits[2]!.ms).toBeLessThan(2_500);
  });

  test('server api - a client of @iocluster/client answers the server’s acks with its listener’s callback', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 2, register });
    const frontend = await cluster.startFrontend();
    const client = libraryClient({ frontendUrl: frontend.url });
    client.on('question', (question: string, ack: (answer: string) => void) => ack(`${question} yes`));
    await next(client, 'connected');
    expect(await client.emitWithAck('ask', 'ready?', 1_000)).toEqual({ answer: 'ready? yes' });
  });

  test('server api - a broadcast emitWithAck gathers every answer on both io-nodes and names the sockets that did not answer', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 2, register });
    const c = cluster;
    const asker = await c.connect(0);
    const one = answering(await c.connect(0));
    const two = answering(await c.connect(1));
    const mute = await c.connect(1);
    mute.on('question', () => undefined);
    for (const s of [asker, one, two, mute]) expect(await s.emitWithAck('join', 'poll')).toBe(true);
    const result = await asker.emitWithAck('ask room', 'poll', 500);
    expect(result).toEqual({
      responses: [`everyone? from ${one.id}`, `everyone? from ${two.id}`].sort(),
      answered: [one.id, two.id].sort(),
      missing: [mute.id],
      missingNodes: [],
    });

    const direct = await c.appNodes[1]!.to('poll')
      .except(mute.id!)
      .timeout(500)
      .emitWithAck('question', 'direct?');
    expect(direct.answers.map((a) => a.socketId).sort()).toEqual([one.id, two.id].sort());
    expect(direct.missing).toEqual([asker.id]);
  });
});
