import type { AppNode } from '@iocluster/app-node';
import type { IoclusterClient } from '@iocluster/client';
import { type RedisServer, startRedisServer } from '@iocluster/devkit';
import { createKeys, createMemoryCommandPath, type RedisConnection } from '@iocluster/shared';
import { SignJWT } from 'jose';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { clientFactory } from './support/clients.js';
import { type Cluster, setup } from './support/cluster.js';
import { INGRESS_TRANSPORTS } from './support/ingress.js';

let cluster: Cluster | undefined;
let ownRedis: RedisServer | undefined;
const clients: IoclusterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await cluster?.cleanup();
  await ownRedis?.stop();
  cluster = undefined;
  ownRedis = undefined;
});

/** What a handler saw of its client, and which app-node ran it. */
interface Seen {
  app: string;
  rooms: string[];
  data: Record<string, unknown>;
}

/** Handlers that show what they see of the client; `noClient` counts `no-client` per app-node. */
function register(noClient: Map<string, string[]>) {
  return (app: AppNode): void => {
    app.on('no-client', (socket) => {
      noClient.set(app.nodeId, [...(noClient.get(app.nodeId) ?? []), socket.id]);
    });
    app.on(
      'whoami',
      (socket): Seen => ({
        app: app.nodeId,
        rooms: [...socket.rooms].sort(),
        data: { ...socket.data },
      }),
    );
    app.on('join', async (socket, room: string) => {
      await socket.join(room);
    });
    app.on('set', (socket, patch: Record<string, unknown>) => socket.setData(patch));
  };
}

const whoami = (socket: Socket) => socket.emitWithAck('whoami') as Promise<Seen>;

/** The client's state as its io-node stored it, or null. */
async function storedState(redis: RedisConnection, prefix: string, id: string) {
  const json = await redis.get(createKeys(prefix).clientState(id, 1));
  return json === null ? null : (JSON.parse(json) as Seen & { v: number });
}

describe('slim events', () => {
  test.each(INGRESS_TRANSPORTS)(
    'slim events - rooms and data changed between events are seen by every app-node, a restarted one and one whose state Redis lost (%s ingress)',
    async (ingressTransport) => {
      const noClient = new Map<string, string[]>();
      cluster = await setup({
        ioNodes: 2,
        appNodes: 1,
        register: register(noClient),
        ioNodeOptions: { ingressTransport },
        appNodeOptions: { ingressTransport },
      });
      const c = cluster;
      const [first] = c.appNodes;
      const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
      await a.emitWithAck('join', 'r1');
      await a.emitWithAck('set', { nick: 'ann' });
      expect(await whoami(a)).toEqual({ app: first!.nodeId, rooms: ['r1'], data: { nick: 'ann' } });
      // Named by version from here on: stored by its io-node before the batch went in.
      expect(await whoami(a)).toEqual({ app: first!.nodeId, rooms: ['r1'], data: { nick: 'ann' } });
      expect(await storedState(c.redis, c.prefix, a.id!)).toMatchObject({
        rooms: ['r1'],
        data: { nick: 'ann' },
      });

      // Another app-node takes over: it never saw the client, so it reads the state (and says no-client).
      const second = await c.startAppNode();
      await first!.close();
      expect(await whoami(a)).toEqual({ app: second.nodeId, rooms: ['r1'], data: { nick: 'ann' } });
      expect(noClient.get(second.nodeId)).toEqual([a.id]);
      await a.emitWithAck('join', 'r2');
      await a.emitWithAck('set', { nick: 'anne', age: 3 });
      const changed = { rooms: ['r1', 'r2'], data: { nick: 'anne', age: 3 } };
      expect(await whoami(a)).toEqual({ app: second.nodeId, ...changed });

      // Restarted: an app-node with an empty cache, while Redis has lost the client's state.
      const third = await c.startAppNode();
      await second.close();
      await c.redis.del(createKeys(c.prefix).clientState(a.id!, 1));
      expect(await whoami(a)).toEqual({ app: third.nodeId, ...changed });
      expect(await whoami(a)).toEqual({ app: third.nodeId, ...changed });
      expect(noClient.get(third.nodeId)).toEqual([a.id]);
      // The io-node sent it again inline, and stores it again for the batch after.
      await vi.waitFor(async () =>
        expect(await storedState(c.redis, c.prefix, a.id!)).toMatchObject(changed),
      );

      // Two app-nodes competing: every answer, whichever ran it, shows the state as it was then.
      await c.startAppNode();
      for (let n = 0; n < 6; n++) {
        await b.emitWithAck('set', { n });
        if (n % 2 === 0) await b.emitWithAck('join', `b${n}`);
        const rooms = ['b0', 'b2', 'b4'].filter((room) => Number(room.slice(1)) <= n);
        for (let k = 0; k < 3; k++) expect(await whoami(b)).toMatchObject({ rooms, data: { n } });
      }
    },
  );
});

const SECRET = 'test-secret-of-at-least-thirty-two-bytes!';

/** A token as the example's demo login signs it (docs/getting-started.md). */
function exampleToken(nickname: string, session: string): Promise<string> {
  return new SignJWT({ name: nickname })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(session)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
    .setIssuer('iocluster-example')
    .setAudience('chat')
    .sign(new TextEncoder().encode(SECRET));
}

interface ChatMessage {
  room: string;
  text: string;
  mid: number;
}

async function bytesIn(redis: RedisConnection): Promise<number> {
  const stats = await redis.info('stats');
  return Number(/total_net_input_bytes:(\d+)/.exec(stats)![1]);
}

describe('slim events cost', () => {
  // Measured on the build machine, one event per job: streams 481-501 bytes (800 with the state in
  // every event), BullMQ 1,597-1,626 (1,923): its three scripts per job take ~1.5 KB of keys and
  // arguments whatever the job holds.
  test.each([
    ['streams', 640],
    ['bullmq', 1_760],
  ] as const)(
    'slim events - with the example handshake, the ingress of a 100-byte chat message costs Redis at most so many bytes (%s: %i)',
    async (ingressTransport, bound) => {
      // Its own Redis, nothing else writing to it, and the command path in memory: what Redis takes in
      // while the messages flow is the ingress (and the nodes' heartbeats).
      ownRedis = await startRedisServer();
      const path = createMemoryCommandPath();
      cluster = await setup({
        redisUrl: ownRedis.url,
        register: (app) => {
          app.on('join', async (socket, room: string) => socket.join(room));
          app.on('chat message', (socket, msg: ChatMessage) => {
            app.to(msg.room).emit('chat message', { ...msg, from: socket.id });
            return { ok: true };
          });
        },
        ioNodeOptions: {
          ingressTransport,
          jwt: { secret: SECRET, issuer: 'iocluster-example', audience: ['chat'] },
        },
        appNodeOptions: { ingressTransport, commands: path.transport() },
      });
      for (const nodeId of ['io-a', 'io-b'])
        await cluster.startIoNode({ nodeId, commands: path.subscriber(nodeId) });
      await cluster.startAppNode();
      const frontend = await cluster.startFrontend();
      const client = clientFactory(clients);
      const members = await Promise.all(
        ['ann', 'bob', 'cid', 'dee'].map(async (nickname, i) => {
          const member = client({
            frontendUrl: frontend.url,
            strategy: 'round-robin',
            getToken: () => exampleToken(nickname, `session-${i}-${'x'.repeat(20)}`),
          });
          const received: number[] = [];
          member.on('chat message', (msg: ChatMessage) => void received.push(msg.mid));
          await member.emitWithAck('join', 'lobby');
          return { member, received };
        }),
      );
      const text = 't'.repeat(100);
      let mid = 0;
      const send = (count: number) =>
        Promise.all(
          members.map(async ({ member }) => {
            for (let k = 0; k < count; k++) {
              await member.emitWithAck('chat message', { room: 'lobby', text, mid: mid++ });
            }
          }),
        );
      // Every client's state stored and named by version from here on.
      await send(3);
      await vi.waitFor(() => expect(members.every(({ received }) => received.length === 12)).toBe(true));
      const before = await bytesIn(cluster.redis);
      const messages = 4 * 50;
      await send(50);
      await vi.waitFor(() =>
        expect(members.every(({ received }) => received.length === 12 + messages)).toBe(true),
      );
      const perMessage = ((await bytesIn(cluster.redis)) - before) / messages;
      console.info(`${ingressTransport}: ${Math.round(perMessage)} bytes into Redis per chat message`);
      expect(perMessage).toBeLessThanOrEqual(bound);
    },
  );
});
