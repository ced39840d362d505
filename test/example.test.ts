import { createKeys } from '@iocluster/shared';
import express from 'express';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import { type ChatApp, createChatApp } from '../example/src/chat-app.js';
import type { ChatMessage, JoinResult, Notice, PresenceNotice } from '../example/src/chat-protocol.js';
import { DEMO_LOGIN_PATH, type DemoLoginResult, demoLogin } from '../example/src/login.js';
import { authenticateByAuthUser } from './fixtures/authenticate.js';
import { type Cluster, collect, nextEvent, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
let chat: ChatApp | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  await chat?.close();
  cluster = undefined;
  chat = undefined;
});

/** 2 io-nodes, 2 app-nodes running the chat handlers, and clients on alternating io-nodes. */
async function start(clients: number): Promise<{ c: Cluster; sockets: Socket[] }> {
  const c = await setup({ ioNodes: 2, register: (app) => chat!.register(app) });
  cluster = c;
  chat = createChatApp({ redis: c.redisUrl, prefix: c.prefix });
  await c.startAppNode();
  await c.startAppNode();
  const sockets = await Promise.all(Array.from({ length: clients }, (_, i) => c.connect(i % 2)));
  return { c, sockets };
}

/**
 * Emits `event` from `sender` until `receiver` hears it (a volatile emit may be dropped), at most 10 times,
 * waiting up to 1 s after each; resolves with the first payload heard.
 */
async function volatileUntilHeard(
  sender: Socket,
  receiver: Socket,
  event: string,
  payload: unknown,
): Promise<unknown> {
  let heard: (value: unknown) => void = () => {};
  const first = new Promise<unknown>((resolve) => {
    heard = resolve;
  });
  receiver.once(event, heard);
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      sender.emit(event, payload);
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<typeof NOT_YET>((resolve) => {
        timer = setTimeout(() => resolve(NOT_YET), 1_000);
      });
      const outcome = await Promise.race([first, waited]);
      clearTimeout(timer);
      if (outcome !== NOT_YET) return outcome;
    }
    throw new Error(`${receiver.id} never heard "${event}" in 10 attempts`);
  } finally {
    receiver.off(event, heard);
  }
}
const NOT_YET = Symbol('not yet');

const message = (room: string, text: string, mid: string) => ({ room, text, sentAt: 1_700_000_000_000, mid });

describe('example chat', () => {
  test('chat - join answers history; a message reaches every member on both io-nodes, sender included', async () => {
    const { sockets } = await start(3);
    const [a, b, outsider] = sockets as [Socket, Socket, Socket];
    expect(await a.emitWithAck('set nickname', 'ada')).toEqual({ nickname: 'ada' });
    const aPresent = nextEvent(a, 'presence');
    expect(await a.emitWithAck('join', 'lobby')).toEqual({
      room: 'lobby',
      history: [],
      members: [{ id: a.id, nick: 'ada' }],
    });
    // Its own `joined` comes once the roster has it.
    expect((await aPresent)[0]).toEqual({ room: 'lobby', joined: { id: a.id, nick: 'ada' } });
    const joinNotice = nextEvent(a, 'notice');
    const bPresent = nextEvent(a, 'presence');
    const joined = (await b.emitWithAck('join', 'lobby')) as JoinResult;
    expect(joined).toEqual({
      room: 'lobby',
      history: [],
      members: [
        { id: a.id, nick: 'ada' },
        { id: b.id, nick: null },
      ],
    });
    expect((await joinNotice)[0]).toMatchObject({ room: 'lobby', kind: 'join', id: b.id, nickname: null });
    expect((await bPresent)[0]).toEqual({ room: 'lobby', joined: { id: b.id, nick: null } });

    const received = [a, b, outsider].map((s) => collect<ChatMessage>(s, 'chat message'));
    const ack = await a.emitWithAck('chat message', message('lobby', 'hello', 'm1'));
    expect(ack).toMatchObject({ ok: true, mid: 'm1' });
    await Promise.all([received[0]!.until(1), received[1]!.until(1)]);
    const expected = { ...message('lobby', 'hello', 'm1'), from: a.id, nickname: 'ada' };
    expect(received[0]!.items).toEqual([expect.objectContaining(expected)]);
    expect(received[1]!.items).toEqual(received[0]!.items);
    // The outsider gets nothing: the answer to its join is published after the message, and an io-node
    // receives both on one subscription, in publish order.
    await outsider.emitWithAck('join', 'lobby');
    expect(received[2]!.items).toEqual([]);
    const history = ((await outsider.emitWithAck('join', 'lobby')) as JoinResult).history;
    expect(history).toEqual(received[0]!.items);
  });

  test('chat - members: one entry per member in the join ack, presence events on join, leave, disconnect', async () => {
    const { sockets } = await start(3);
    const [a, b, d] = sockets as [Socket, Socket, Socket];
    await a.emitWithAck('set nickname', 'ada');
    await b.emitWithAck('set nickname', 'bob');
    const seen = collect<PresenceNotice>(a, 'presence');
    await a.emitWithAck('join', 'room');
    await seen.until(1);
    await b.emitWithAck('join', 'room');
    await seen.until(2);
    const { members } = (await d.emitWithAck('join', 'room')) as JoinResult;
    expect(members).toEqual([
      { id: a.id, nick: 'ada' },
      { id: b.id, nick: 'bob' },
      { id: d.id, nick: null },
    ]);
    await seen.until(3);
    // Joining again (a page does after a reconnect) announces nothing and lists each member once.
    expect(((await b.emitWithAck('join', 'room')) as JoinResult).members).toEqual(members);
    expect(await b.emitWithAck('leave', 'room')).toEqual({ room: 'room' });
    await seen.until(4);
    const dId = d.id;
    d.disconnect();
    await seen.until(5);
    expect(seen.items).toEqual([
      { room: 'room', joined: { id: a.id, nick: 'ada' } },
      { room: 'room', joined: { id: b.id, nick: 'bob' } },
      { room: 'room', joined: { id: dId, nick: null } },
      { room: 'room', left: { id: b.id, nick: 'bob' } },
      { room: 'room', left: { id: dId, nick: null } },
    ]);
    expect(((await a.emitWithAck('join', 'room')) as JoinResult).members).toEqual([
      { id: a.id, nick: 'ada' },
    ]);
  });

  test('chat - history keeps the last 50 messages of a room, oldest first, for any app-node', async () => {
    const { c, sockets } = await start(1);
    const [a] = sockets as [Socket];
    await a.emitWithAck('join', 'busy');
    for (let n = 0; n < 60; n++) await a.emitWithAck('chat message', message('busy', `n${n}`, `m${n}`));
    const { history } = (await a.emitWithAck('join', 'busy')) as JoinResult;
    expect(history.map((m) => m.text)).toEqual(Array.from({ length: 50 }, (_, k) => `n${k + 10}`));
    // Kept by iocluster as the room's history (the chat reads its last 50 messages from it).
    expect(await c.redis.xlen(createKeys(c.prefix).history('room:busy'))).toBeGreaterThanOrEqual(60);
    expect(await a.emitWithAck('rooms')).toEqual({ rooms: ['busy'] });
  });

  test('chat - bad payloads get { error: { code, message } } and the connection keeps working', async () => {
    const { sockets } = await start(2);
    const [a, b] = sockets as [Socket, Socket];
    const code = async (event: string, ...args: unknown[]) =>
      ((await a.emitWithAck(event, ...args)) as { error?: { code: string; message: string } }).error?.code;
    expect(await code('join', '')).toBe('BAD_ROOM');
    expect(await code('join', { room: 'x' })).toBe('BAD_ROOM');
    expect(await code('join', 'x'.repeat(40))).toBe('BAD_ROOM');
    expect(await code('chat message', 'just text')).toBe('BAD_REQUEST');
    expect(await code('chat message', message('nowhere', 'hi', 'm'))).toBe('NOT_IN_ROOM');
    await a.emitWithAck('join', 'r');
    expect(await code('chat message', { ...message('r', '', 'm') })).toBe('BAD_REQUEST');
    expect(await code('chat message', { ...message('r', 'hi', 'm'), sentAt: 'now' })).toBe('BAD_REQUEST');
    expect(await code('chat message', { ...message('r', 'hi', ''), mid: 42 })).toBe('BAD_REQUEST');
    expect(await code('chat message', message('r', 'x'.repeat(2_001), 'm'))).toBe('BAD_REQUEST');
    expect(await code('set nickname', 'no spaces allowed')).toBe('BAD_NICKNAME');
    expect(await code('set nickname', null)).toBe('BAD_NICKNAME');
    expect(await code('private message', { to: 'nobody-here', text: 'hi', sentAt: 1, mid: 'p' })).toBe(
      'USER_NOT_FOUND',
    );
    expect(await b.emitWithAck('set nickname', 'bea')).toEqual({ nickname: 'bea' });
    expect(await code('set nickname', 'BEA')).toBe('NICKNAME_TAKEN');
    // Still fine after all of that.
    expect(await a.emitWithAck('chat message', message('r', 'fine', 'm9'))).toMatchObject({ ok: true });
  });

  test('chat - private messages by nickname or socket id, typing, and leave/disconnect notices', async () => {
    const { sockets } = await start(3);
    const [a, b, d] = sockets as [Socket, Socket, Socket];
    await a.emitWithAck('set nickname', 'ada');
    await b.emitWithAck('set nickname', 'bob');
    const pmA = collect(a, 'private message');
    const pmB = collect(b, 'private message');
    const pmD = collect(d, 'private message');
    expect(
      await a.emitWithAck('private message', { to: 'bob', text: 'psst', sentAt: 1, mid: 'p1' }),
    ).toMatchObject({
      ok: true,
      to: b.id,
    });
    expect(
      await d.emitWithAck('private message', { to: a.id, text: 'by id', sentAt: 2, mid: 'p2' }),
    ).toMatchObject({
      ok: true,
      to: a.id,
    });
    await Promise.all([pmA.until(2), pmB.until(1), pmD.until(1)]);
    expect(pmB.items).toEqual([
      expect.objectContaining({ from: a.id, nickname: 'ada', to: b.id, text: 'psst' }),
    ]);
    expect(pmA.items).toEqual([
      expect.objectContaining({ text: 'psst', toNickname: 'bob' }),
      expect.objectContaining({ text: 'by id', from: d.id, toNickname: null }),
    ]);
    expect(pmD.items).toEqual([expect.objectContaining({ text: 'by id' })]);

    for (const s of [a, b, d]) await s.emitWithAck('join', 'room');
    // Typing is volatile: b's io-node drops it, as Socket.IO does, while b's connection is still writing
    // the notices of d's join. A client types again on its next keystroke; so does this test, until b hears.
    expect(await volatileUntilHeard(a, b, 'typing', { room: 'room', typing: true })).toEqual({
      room: 'room',
      id: a.id,
      nickname: 'ada',
      typing: true,
    });

    const left = nextEvent(b, 'notice');
    expect(await a.emitWithAck('leave', 'room')).toEqual({ room: 'room' });
    expect((await left)[0]).toMatchObject({ room: 'room', kind: 'leave', id: a.id, nickname: 'ada' });
    const gone = nextEvent(b, 'notice');
    const dId = d.id;
    d.disconnect();
    expect((await gone)[0]).toMatchObject({ room: 'room', kind: 'leave', id: dId });
    // A nickname is free again once its holder disconnected (released before the leave notice goes out).
    // Bob's own leave notice: an earlier notice of the room may still reach a's io-node after a joined.
    const bId = b.id;
    const bobGone = new Promise<void>((resolve) =>
      a.on('notice', (n: Notice) => {
        if (n.kind === 'leave' && n.id === bId) resolve();
      }),
    );
    await a.emitWithAck('join', 'room');
    b.disconnect();
    await bobGone;
    expect(await a.emitWithAck('set nickname', 'bob')).toEqual({ nickname: 'bob' });
  });

  test('chat - a private message to a signed-in user reaches every connection of that user, on both io-nodes (toUser)', async () => {
    const c = await setup({
      ioNodes: 2,
      register: (app) => chat!.register(app),
      ioNodeOptions: { authenticate: authenticateByAuthUser },
    });
    cluster = c;
    chat = createChatApp({ redis: c.redisUrl, prefix: c.prefix });
    await c.startAppNode();
    await c.startAppNode();
    const ada = await c.connect(0, { auth: { user: 'ada-user' } });
    const bobPhone = await c.connect(0, { auth: { user: 'bob-user' } });
    const bobLaptop = await c.connect(1, { auth: { user: 'bob-user' } });
    const adaTablet = await c.connect(1, { auth: { user: 'ada-user' } });
    expect(await ada.emitWithAck('set nickname', 'ada')).toEqual({ nickname: 'ada' });
    expect(await bobPhone.emitWithAck('set nickname', 'bob')).toEqual({ nickname: 'bob' });
    const inboxes = [bobPhone, bobLaptop, adaTablet, ada].map((s) =>
      collect<{ text: string }>(s, 'private message'),
    );
    expect(
      await ada.emitWithAck('private message', { to: 'bob', text: 'to all of bob', sentAt: 1, mid: 'u1' }),
    ).toMatchObject({ ok: true, to: bobPhone.id });
    // Bob's two connections, and Ada's own two (her copy).
    await Promise.all(inboxes.map((inbox) => inbox.until(1)));
    for (const inbox of inboxes) expect(inbox.items.map((m) => m.text)).toEqual(['to all of bob']);
  });

  test("chat - with JWT auth: the demo login signs a short-lived token, and the nickname is the login's", async () => {
    const secret = 'example-test-secret-of-32-bytes-or-more';
    const jwt = { secret, issuer: 'iocluster-example', audience: ['chat'] };
    const c = await setup({ ioNodes: 2, register: (app) => chat!.register(app), ioNodeOptions: { jwt } });
    cluster = c;
    chat = createChatApp({ redis: c.redisUrl, prefix: c.prefix });
    await c.startAppNode();
    const frontend = await c.startFrontend();
    frontend.app.post(
      DEMO_LOGIN_PATH,
      express.json(),
      demoLogin({ secret, issuer: jwt.issuer, audience: 'chat', ttlSeconds: 60 }),
    );
    const login = async (body: unknown) => {
      const res = await fetch(`${frontend.url}${DEMO_LOGIN_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as DemoLoginResult };
    };
    expect((await login({ nickname: 'no spaces' })).status).toBe(400);
    const ada = await login({ nickname: 'ada', session: 'session-ada-1' });
    expect(ada.status).toBe(200);
    expect(ada.body.expiresAt - Date.now()).toBeLessThanOrEqual(60_000);

    await expect(c.connect(0)).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    const a = await c.connect(0, { auth: { token: ada.body.token } });
    const b = await c.connect(1, { auth: { token: (await login({ nickname: 'bob' })).body.token } });
    expect(await a.emitWithAck('set nickname', 'bob')).toMatchObject({ error: { code: 'BAD_NICKNAME' } });
    expect(await a.emitWithAck('set nickname', 'ada')).toEqual({ nickname: 'ada' });
    await b.emitWithAck('set nickname', 'bob');
    await a.emitWithAck('join', 'lobby');
    const notice = nextEvent<[Notice]>(a, 'notice');
    await b.emitWithAck('join', 'lobby');
    expect((await notice)[0]).toMatchObject({ kind: 'join', id: b.id, nickname: 'bob' });
    const heard = collect<ChatMessage>(a, 'chat message');
    await b.emitWithAck('chat message', message('lobby', 'hi ada', 'm1'));
    expect((await heard.until(1))[0]).toMatchObject({ from: b.id, nickname: 'bob', text: 'hi ada' });
  });
});
