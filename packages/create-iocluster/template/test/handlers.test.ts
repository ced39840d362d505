import { createAppNode } from '@iocluster/app-node';
import { createClient, type IoclusterClient } from '@iocluster/client';
import { type RedisServer, startRedisServer } from '@iocluster/devkit';
import { createFrontend, type Frontend } from '@iocluster/frontend';
import { createIoNode, type IoNode } from '@iocluster/io-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, ClientEvents, ServerEvents, SocketData } from '../src/events.js';
import register from '../src/handlers.js';

// A whole cluster in this process: a private redis-server (devkit), an io-node, an app-node running
// your handlers, and the frontend the client discovers the io-node through.
let redis: RedisServer;
let ioNode: IoNode;
let frontend: Frontend;
const app = () =>
  createAppNode<ClientEvents, ServerEvents, Record<string, never>, SocketData>({ redis: redis.url });
let appNode: ReturnType<typeof app>;
const clients: IoclusterClient<ServerEvents, ClientEvents>[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  ioNode = createIoNode({ redis: redis.url, host: '127.0.0.1', port: 0 });
  appNode = app();
  register(appNode);
  frontend = createFrontend({ redis: redis.url, host: '127.0.0.1', port: 0 });
  await Promise.all([ioNode.start(), appNode.start(), frontend.start()]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await frontend?.close();
  await ioNode?.close();
  await appNode?.close();
  await redis?.close();
});

async function connect(): Promise<IoclusterClient<ServerEvents, ClientEvents>> {
  const client = createClient<ServerEvents, ClientEvents>({ frontendUrl: frontend.url });
  clients.push(client);
  await new Promise<void>((resolve) => client.on('connected', () => resolve()));
  return client;
}

describe('handlers', () => {
  it('a message reaches everyone in the room, and its sender gets the ack', async () => {
    const [alice, bob] = await Promise.all([connect(), connect()]);
    expect(await alice.emitWithAck('join', 'lobby')).toEqual({ room: 'lobby', rooms: ['lobby'] });
    await bob.emitWithAck('join', 'lobby');
    const received = new Promise<ChatMessage>((resolve) => bob.on('chat message', resolve));
    const ack = await alice.emitWithAck('chat message', { room: 'lobby', text: 'hello' });
    expect(ack).toMatchObject({ ok: true });
    expect(await received).toMatchObject({ room: 'lobby', text: 'hello' });
  });

  it('a message to a room the sender is not in is refused', async () => {
    const carol = await connect();
    const ack = await carol.emitWithAck('chat message', { room: 'elsewhere', text: 'hi' });
    expect(ack).toEqual({ error: { code: 'NOT_IN_ROOM', message: 'join elsewhere first' } });
  });
});
