import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, nextEvent, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

describe('application api', () => {
  test('auth - the handshake hook names the user every handler sees, and refuses bad tokens', async () => {
    cluster = await setup({
      ioNodes: 2,
      appNodes: 2,
      register: (app) => {
        registerTestApp(app);
        app.on('whoami', (socket) => ({ user: socket.user, query: socket.handshake.query.room }));
      },
      ioNodeOptions: {
        authenticate: (handshake) => {
          const token = (handshake.auth as { token?: unknown }).token;
          if (token === 'ada-token') return { name: 'ada', roles: ['admin'] };
          if (token === undefined) return null;
          throw Object.assign(new Error('bad token'), { data: { code: 'UNAUTHORIZED' } });
        },
      },
    });
    const ada = await cluster.connect(1, { auth: { token: 'ada-token' }, query: { room: 'lobby' } });
    expect(await ada.emitWithAck('whoami')).toEqual({
      user: { name: 'ada', roles: ['admin'] },
      query: 'lobby',
    });
    const anonymous = await cluster.connect(0);
    expect(await anonymous.emitWithAck('whoami')).toEqual({ user: null });
    await expect(cluster.connect(0, { auth: { token: 'forged' } })).rejects.toThrow('bad token');
  });

  test('middleware - runs before every client event and refuses with its error', async () => {
    const seen: string[] = [];
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => {
        registerTestApp(app);
        app.use((socket, event, args) => {
          seen.push(`${event}:${JSON.stringify(args)}`);
          if (event === 'echo' && args[0] === 'forbidden') {
            throw Object.assign(new Error('not allowed'), { code: 'FORBIDDEN' });
          }
          if (socket.data.banned === true) throw Object.assign(new Error('banned'), { code: 'BANNED' });
        });
      },
    });
    const a = await cluster.connect(0);
    expect(await a.emitWithAck('echo', 'fine')).toEqual(['fine']);
    expect(await a.emitWithAck('echo', 'forbidden')).toEqual({
      error: { code: 'FORBIDDEN', message: 'not allowed' },
    });
    await a.emitWithAck('set', { banned: true });
    expect(await a.emitWithAck('echo', 'fine')).toEqual({ error: { code: 'BANNED', message: 'banned' } });
    // connection and disconnect are not client events: the middleware saw only these four.
    expect(seen).toEqual(['echo:["fine"]', 'echo:["forbidden"]', 'set:[{"banned":true}]', 'echo:["fine"]']);
  });

  test('custom commands - reach the hook on the io-node holding the socket, or every io-node', async () => {
    const calls: string[] = [];
    cluster = await setup({
      ioNodes: 2,
      appNodes: 1,
      register: (app) => {
        registerTestApp(app);
        app.on('spotlight', (socket, note: string) => {
          app.command('spotlight', { note }, { socketId: socket.id, nodeId: socket.nodeId });
          app.command('announce', { note });
          return 'sent';
        });
      },
      ioNodeOptions: {
        commandHandlers: {
          spotlight: (payload, { socket }) => {
            calls.push(`spotlight:${socket?.id}`);
            socket?.emit('spotlighted', payload);
          },
          announce: (payload, { io }) => {
            calls.push('announce');
            io.emit('announced', payload);
          },
        },
      },
    });
    const [a, b] = await Promise.all([cluster.connect(0), cluster.connect(1)]);
    const spot = nextEvent(a, 'spotlighted');
    const announced = [a, b].map((s) => collect(s, 'announced'));
    expect(await a.emitWithAck('spotlight', 'hello')).toBe('sent');
    expect(await spot).toEqual([{ note: 'hello' }]);
    await Promise.all(announced.map((c) => c.until(1)));
    // Each io-node ran `announce` once and emitted to its own clients; the spotlight ran only where `a` is.
    expect(announced.map((c) => c.items)).toEqual([[{ note: 'hello' }], [{ note: 'hello' }]]);
    expect(calls.sort()).toEqual(['announce', 'announce', `spotlight:${a.id}`]);
  });

  test('rooms - leave stops room emits; broadcast and app.except skip who they name', async () => {
    cluster = await setup({
      ioNodes: 2,
      appNodes: 2,
      register: (app) => {
        registerTestApp(app);
        app.on('shout', (socket, text: string) => {
          socket.broadcast.emit('shout', text);
          app.except('quiet').emit('except-quiet', text);
          app.emit('marker', text);
        });
      },
    });
    const [a, b, quiet] = await Promise.all([cluster.connect(0), cluster.connect(1), cluster.connect(1)]);
    await Promise.all([
      a.emitWithAck('join', 'r'),
      b.emitWithAck('join', 'r'),
      quiet.emitWithAck('join', 'quiet'),
    ]);
    expect(await b.emitWithAck('leave', 'r')).toEqual([]);
    const room = [a, b].map((s) => collect(s, 'room'));
    let markers = [a, b, quiet].map((s) => nextEvent(s, 'marker'));
    await a.emitWithAck('to room', 'r', 'only a');
    await Promise.all(markers);
    expect(room.map((r) => r.items)).toEqual([['only a'], []]);

    const shouts = [a, b, quiet].map((s) => collect(s, 'shout'));
    const notQuiet = [a, b, quiet].map((s) => collect(s, 'except-quiet'));
    markers = [a, b, quiet].map((s) => nextEvent(s, 'marker'));
    a.emit('shout', 'hey');
    await Promise.all(markers);
    expect(shouts.map((s) => s.items)).toEqual([[], ['hey'], ['hey']]);
    expect(notQuiet.map((s) => s.items)).toEqual([['hey'], ['hey'], []]);
  });

  test('disconnect - a handler disconnecting its socket ends the session and runs the disconnect handler', async () => {
    let handled!: (entry: string) => void;
    const disconnected = new Promise<string>((resolve) => {
      handled = resolve;
    });
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => {
        registerTestApp(app);
        app.on('disconnect', (socket, reason) => handled(`${socket.id}:${reason}`));
      },
    });
    const a = await cluster.connect(0);
    const id = a.id;
    const gone = nextEvent<[string]>(a, 'disconnect');
    a.emit('kick');
    expect((await gone)[0]).toBe('io server disconnect');
    expect(await disconnected).toBe(`${id}:server namespace disconnect`);
    expect(cluster.ioNodes[0]!.connections).toBe(0);
  });
});
