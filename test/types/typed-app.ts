/**
 * Compiled by test/types.test.ts with --strict: typed event maps shared by an app-node and a client.
 * Every `@ts-expect-error` line must fail to compile (an unused one is itself an error).
 */
import { type AppNode, type AppSocket, createAppNode } from '@iocluster/app-node';
import { createClient } from '@iocluster/client';
import { expectTypeOf } from 'vitest';

interface Message {
  room: string;
  text: string;
}

interface ClientEvents {
  'chat message': (msg: Message, ack: (result: { ok: true; at: number }) => void) => void;
  join: (room: string, ack: (result: { members: string[] }) => void) => void;
  typing: (room: string) => void;
}

interface ServerEvents {
  'chat message': (msg: Message & { from: string }) => void;
  welcome: (id: string) => void;
}

interface InterServerEvents {
  kick: (payload: { socketId: string }) => void;
}

interface SocketData {
  nick: string;
}

interface Claims {
  sub: string;
  name: string;
}

export function register(
  app: AppNode<ClientEvents, ServerEvents, InterServerEvents, SocketData, Claims>,
): void {
  app.on('connection', async (socket) => {
    expectTypeOf(socket.user).toEqualTypeOf<Claims>();
    expectTypeOf(socket.data).toEqualTypeOf<Readonly<Partial<SocketData>>>();
    socket.setData({ nick: socket.user.name });
    // @ts-expect-error: `nick` is a string
    socket.setData({ nick: 1 });
    socket.emit('welcome', socket.id);
    // @ts-expect-error: `welcome` takes a string
    socket.emit('welcome', 42);
    // @ts-expect-error: not a server event
    socket.emit('welcom', socket.id);
    await socket.join('lobby');
  });

  app.on('chat message', (socket, msg) => {
    expectTypeOf(msg).toEqualTypeOf<Message>();
    app.to(msg.room).emit('chat message', { ...msg, from: socket.user.sub });
    socket.to(msg.room).emit('chat message', { ...msg, from: socket.id });
    app.emit('welcome', 'everyone');
    // @ts-expect-error: a room emit is checked against the server events too
    app.to(msg.room).emit('chat message', msg);
    // @ts-expect-error: so is an emit to everyone
    app.emit('wellcome', 'everyone');
    return { ok: true, at: Date.now() };
  });

  app.on('join', async (_socket, room) => {
    expectTypeOf(room).toEqualTypeOf<string>();
    return { members: (await app.presence(room)).map((m) => m.id) };
  });

  // @ts-expect-error: the ack answers `{ members: string[] }`
  app.on('join', async () => ({ members: 3 }));

  // A handler of an event without an ack may return anything.
  app.on('typing', (socket, room) => {
    socket.to(room).emit('welcome', socket.id);
  });

  // @ts-expect-error: a typo of `connection` is not an event of the map
  app.on('conection', () => {});

  // @ts-expect-error: nor is any other unknown name
  app.on('chat mesage', () => true);

  app.on('disconnect', (socket, reason) => {
    expectTypeOf(socket).toEqualTypeOf<AppSocket<ServerEvents, SocketData, Claims>>();
    expectTypeOf(reason).toEqualTypeOf<string>();
  });
  app.on('presence', (change) => {
    expectTypeOf(change.room).toEqualTypeOf<string>();
  });

  app.command('kick', { socketId: 'x' });
  // @ts-expect-error: not an inter-server event
  app.command('kik', { socketId: 'x' });
}

/** Without maps everything stays as loose as Socket.IO's untyped server. */
export function registerLoose(app: AppNode): void {
  app.on('anything', (socket, a: number, b: { deep: string[] }) => {
    socket.emit('whatever', a, b, socket.data.anything);
    app.to('room').emit('any', 1, 2, 3);
    expectTypeOf(socket.user).toEqualTypeOf<unknown>();
    return a + b.deep.length;
  });
  app.on('conection', () => {});
  app.command('custom', { any: 'payload' });
  // The lifecycle events keep their types without maps too.
  app.on('presence', (change) => {
    expectTypeOf(change.memberId).toEqualTypeOf<string>();
  });
  app.on('disconnect', (socket, reason) => {
    expectTypeOf(socket).toEqualTypeOf<AppSocket>();
    expectTypeOf(reason).toEqualTypeOf<string>();
  });
}

/** The client takes the same maps, from its side. */
export async function chat(): Promise<void> {
  const client = createClient<ServerEvents, ClientEvents>({ frontendUrl: 'http://127.0.0.1:3000' });
  client.on('chat message', (msg) => {
    expectTypeOf(msg.from).toEqualTypeOf<string>();
  });
  // @ts-expect-error: not a server event
  client.on('chat mesage', () => {});
  const answer = await client.emitWithAck('chat message', { room: 'lobby', text: 'hi' });
  expectTypeOf(answer).toEqualTypeOf<{ ok: true; at: number }>();
  // @ts-expect-error: `join` takes a room name
  await client.emitWithAck('join', 1);
  client.emit('typing', 'lobby');
}

/** Typed nodes come from the factory too. */
export const typed = (redis: string) =>
  createAppNode<ClientEvents, ServerEvents, InterServerEvents, SocketData, Claims>({ redis });
