import type { AppNode } from '@iocluster/app-node';
import { ClientError, type IoclusterClient } from '@iocluster/client';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { clientFactory, next } from './support/clients.js';
import { type Cluster, collect, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
const clients: IoclusterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster?.cleanup();
  cluster = undefined;
});

const SECRET = 'channel-test-secret-at-least-32-bytes-long';

const client = clientFactory(clients, { backoffMinMs: 50 });

/** Subscribes only to `public:*` and `room:<own name>`; publishes on `public:*`, stamped and cleaned. */
function registerAuthorized(app: AppNode): void {
  registerTestApp(app);
  app.authorizeSubscribe((socket, channel) => {
    if (channel.startsWith('public:')) return true;
    if (channel === `room:${String(socket.handshake.query.name)}`) return true;
    if (channel === 'vip') throw Object.assign(new Error('members only'), { code: 'NOT_A_MEMBER' });
    return false;
  });
  app.authorizePublish(async (socket, channel, data) => {
    if (!channel.startsWith('public:')) return false;
    return {
      data: {
        text: String((data as { text?: unknown }).text).replace(/darn/g, '****'),
        by: socket.handshake.query.name,
      },
    };
  });
}

describe('channels', () => {
  test('channels - defaults: subscribe allowed, publish FORBIDDEN; plain Socket.IO clients use the reserved events', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 1, register: registerTestApp });
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    expect(await a.emitWithAck('$subscribe', 'news')).toEqual({ ok: true });
    expect(await b.emitWithAck('$publish', 'news', 'hello')).toEqual({
      error: { code: 'FORBIDDEN', message: 'publishing on "news" is not allowed' },
    });
    expect(await a.emitWithAck('$subscribe', 42)).toMatchObject({ error: { code: 'INVALID_EVENT' } });
    expect(await a.emitWithAck('$publish', 'news')).toMatchObject({ error: { code: 'INVALID_EVENT' } });
    expect(await a.emitWithAck('$whatever', 'news')).toMatchObject({ error: { code: 'RESERVED_EVENT' } });
    // The channel's room is not a server room: a server emit to "news" does not reach the subscriber.
    const got = collect(a, 'room');
    const marker = collect(a, 'marker');
    await b.emitWithAck('to room', 'news', 'server room');
    await marker.until(1);
    expect(got.items).toEqual([]);
  });

  test('channels - publish defaults to allowed as an option; messages go to subscribers on every io-node, in order', async () => {
    cluster = await setup({
      ioNodes: 2,
      appNodes: 2,
      register: registerTestApp,
      appNodeOptions: { channels: { publish: 'allow' } },
    });
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    const c = await cluster.connect(1);
    await a.emitWithAck('$subscribe', 'news');
    await b.emitWithAck('$subscribe', 'news');
    const atA = collect<{ channel: string; data: unknown }>(a, '$message');
    const atB = collect<{ channel: string; data: unknown }>(b, '$message');
    const atC = collect(c, '$message');
    for (let n = 0; n < 20; n++) c.emit('$publish', 'news', n);
    expect(await c.emitWithAck('$publish', 'news', 'last')).toEqual({ ok: true });
    const expected = [
      ...Array.from({ length: 20 }, (_, n) => ({ channel: 'news', data: n })),
      { channel: 'news', data: 'last' },
    ];
    expect(await atA.until(21)).toEqual(expected);
    expect(await atB.until(21)).toEqual(expected);
    expect(await b.emitWithAck('$unsubscribe', 'news')).toEqual({ ok: true });
    await c.emitWithAck('$publish', 'news', 'after');
    await atA.until(22);
    expect(atB.items).toHaveLength(21);
    expect(atC.items).toEqual([]);
  });

  test('channels - authorizers allow, refuse with FORBIDDEN or their own code, rewrite; a refused subscriber gets nothing', async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 2, register: registerAuthorized });
    const ada = await cluster.connect(0, { query: { name: 'ada' } });
    const eve = await cluster.connect(0, { query: { name: 'eve' } });
    expect(await ada.emitWithAck('$subscribe', 'public:lobby')).toEqual({ ok: true });
    expect(await ada.emitWithAck('$subscribe', 'room:ada')).toEqual({ ok: true });
    expect(await eve.emitWithAck('$subscribe', 'room:ada')).toEqual({
      error: { code: 'FORBIDDEN', message: 'subscribing to "room:ada" is not allowed' },
    });
    expect(await eve.emitWithAck('$subscribe', 'vip')).toEqual({
      error: { code: 'NOT_A_MEMBER', message: 'members only' },
    });
    const atAda = collect(ada, '$message');
    const atEve = collect(eve, '$message');
    expect(await eve.emitWithAck('$publish', 'room:ada', { text: 'psst' })).toMatchObject({
      error: { code: 'FORBIDDEN' },
    });
    expect(await eve.emitWithAck('$publish', 'public:lobby', { text: 'darn it' })).toEqual({ ok: true });
    expect(await atAda.until(1)).toEqual([{ channel: 'public:lobby', data: { text: '**** it', by: 'eve' } }]);
    // A server-side emit on ada's private channel room reaches ada only: eve's refused subscribe joined nothing.
    await ada.emitWithAck('to room', '$ch:room:ada', 'private');
    expect(atEve.items).toEqual([]);
  });

  test('channels - @iocluster/client subscribes, publishes, gets REFUSED with the server code, resubscribes after a node change', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 1, register: registerAuthorized });
    const frontend = await cluster.startFrontend();
    const listener = client({ frontendUrl: frontend.url, socketOptions: { query: { name: 'ada' } } });
    const talker = client({ frontendUrl: frontend.url, socketOptions: { query: { name: 'bob' } } });
    const got: unknown[] = [];
    await listener.subscribe('public:lobby', (data) => got.push(data));
    const refused = await listener.subscribe('room:bob', () => {}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ClientError);
    expect(refused).toMatchObject({ code: 'REFUSED', serverCode: 'FORBIDDEN' });
    await talker.publish('public:lobby', { text: 'one' });
    await expect.poll(() => got).toEqual([{ text: 'one', by: 'bob' }]);
    await expect(talker.publish('room:ada', { text: 'x' })).rejects.toMatchObject({
      serverCode: 'FORBIDDEN',
    });

    const moved = next(listener, 'connected');
    const from = listener.nodeId;
    await cluster.ioNodes.find((n) => n.nodeId === from)!.close();
    await moved;
    // Resubscribed before anything queued: a publish after the move reaches it.
    await listener.publish('public:lobby', { text: 'self' }).catch(() => undefined);
    await talker.publish('public:lobby', { text: 'two' });
    await expect.poll(() => got.map((m) => (m as { text: string }).text)).toContain('two');
  });

  test('client - getToken: token in the handshake, refreshed on $token:expiring without reconnecting, asked again after TOKEN_EXPIRED', async () => {
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => {
        registerTestApp(app);
        app.on('whoami', (socket) => socket.user);
      },
      ioNodeOptions: { jwt: { secret: SECRET, expiryNoticeMs: 1_500 } },
    });
    const frontend = await cluster.startFrontend();
    let issued = 0;
    const getToken = () =>
      new SignJWT({ sub: 'ada', n: ++issued })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(Date.now() / 1000) + 3)
        .sign(new TextEncoder().encode(SECRET));
    const a = client({ frontendUrl: frontend.url, getToken });
    await next(a, 'connected');
    const id = a.id;
    expect(await a.emitWithAck('whoami')).toMatchObject({ sub: 'ada', n: 1 });
    await expect.poll(() => issued, { timeout: 5_000 }).toBe(2);
    await expect.poll(async () => ((await a.emitWithAck('whoami')) as { n: number }).n).toBe(2);
    expect(a.id).toBe(id);

    // A client whose getToken fails is disconnected at expiry, learns TOKEN_EXPIRED, and reconnects with a new token.
    let failing = true;
    const b = client({
      frontendUrl: frontend.url,
      getToken: async () => {
        if (failing && issued > 2) throw new Error('login service down');
        return getToken();
      },
    });
    await next(b, 'connected');
    const failed = next(b, 'token-refresh-failed');
    const dropped = next(b, 'disconnected');
    expect((await failed)[0]).toMatchObject({ code: 'REFUSED' });
    failing = false;
    expect(await dropped).toEqual(['io server disconnect', 'TOKEN_EXPIRED']);
    await next(b, 'connected');
    expect(await b.emitWithAck('whoami')).toMatchObject({ sub: 'ada' });
  });

  test('client - SERVER_FULL at the handshake makes the client try another io-node', async () => {
    cluster = await setup({ ioNodes: 0, appNodes: 1, register: registerTestApp });
    const full = await cluster.startIoNode({ maxConnections: 1 });
    const other = await cluster.startIoNode();
    const frontend = await cluster.startFrontend({ strategy: 'round-robin' });
    await cluster.connect(0);
    const seen: string[] = [];
    const c = client({ frontendUrl: frontend.url });
    c.on('reconnecting', (_attempt, reason) => seen.push(reason));
    await next(c, 'connected');
    const d = client({ frontendUrl: frontend.url });
    d.on('reconnecting', (_attempt, reason) => seen.push(reason));
    await next(d, 'connected');
    // Round-robin sends the full node at least one of the two; refused there, it lands on the other.
    expect([c.nodeId, d.nodeId]).toEqual([other.nodeId, other.nodeId]);
    expect(full.connections).toBe(1);
    // At least one of them was refused first; each refusal made it look for another node.
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(new Set(seen)).toEqual(new Set(['connect_error']));
  });
});
